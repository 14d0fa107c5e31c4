import { readFileSync } from 'node:fs';

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU seconds (user + system, every thread) a process has used so far, with its descendants when
 * asked (nginx's workers are its master's children). Linux only; 0 when the process is gone.
 */
export function cpuSeconds(pid: number, withDescendants = false): number {
  let ticks = 0;
  try {
    // Fields after the command name, which may itself hold spaces: utime and stime are 14th and 15th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  } catch {
    return 0;
  }
  // USER_HZ is 100 on every Linux this runs on.
  let seconds = ticks / 100;
  if (withDescendants) for (const child of childrenOf(pid)) seconds += cpuSeconds(child, true);
  return seconds;
}
