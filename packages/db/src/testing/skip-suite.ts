/** The part of a uvu suite that `skipSuite` uses (kept structural: the harness does not depend on uvu). */
export interface SkippableSuite {
  skip(name: string, handler: () => void): void;
  run(): void;
}

/**
 * Report a suite that cannot run on this machine (no `pgbouncer`, no local server binaries for a
 * replica) as one skipped test, with the reason on stderr. Where `TEST_REQUIRE_ALL` is set
 * (`.ci/run` sets it, after installing what these suites need), a missing dependency throws
 * instead, so the run fails rather than passing with the suite unseen.
 *
 * @example
 * if (!findPgBouncer()) skipSuite(test, 'runs through PgBouncer', 'pgbouncer is not installed (apt-get install pgbouncer)');
 */
export function skipSuite(test: SkippableSuite, name: string, reason: string): void {
  if (process.env.TEST_REQUIRE_ALL) throw new Error(`${name}: ${reason}, and TEST_REQUIRE_ALL is set`);
  console.warn(`${reason}: "${name}" skipped`);
  test.skip(name, () => {});
  test.run();
}
