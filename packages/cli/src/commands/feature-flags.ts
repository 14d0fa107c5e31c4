import { ALLOW_NEGATIVE_BALANCE, setUserFeatureFlag } from '@control-layer/db';
import { Argument, type Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { execute } from '../execute.ts';
import { requireUser } from '../lookup.ts';

/** The flags the middleware and the router read; a typo names these instead of setting a dead flag. */
const FEATURE_FLAGS = [ALLOW_NEGATIVE_BALANCE];

/** `users flag`: a user's feature flags, on the `users` group. */
export function registerFeatureFlags(users: Command): void {
  users
    .command('flag <username> <flag>')
    .description(`turn a user's feature flag on or off (${ALLOW_NEGATIVE_BALANCE}: the balance never stops them)`)
    .addArgument(new Argument('<state>', 'on or off').choices(['on', 'off']))
    .action((username: string, flagName: string, state: 'on' | 'off', _options: object, command: Command) =>
      execute(command, async ({ db }) => {
        const flag = flagName.toUpperCase();
        if (!FEATURE_FLAGS.includes(flag)) {
          throw new CliError(
            `unknown feature flag ${JSON.stringify(flagName)}: expected one of ${FEATURE_FLAGS.join(', ')}`,
          );
        }
        const user = await requireUser(db, username);
        const enabled = state === 'on';
        await setUserFeatureFlag(db, user.id, flag, enabled);
        return { text: `${flag} is ${state} for ${username}`, json: { user: username, flag, enabled } };
      }),
    );
}
