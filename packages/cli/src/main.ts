#!/usr/bin/env -S node --conditions=@control-layer/compiled
/**
 * `control-layer`: the admin command-line tool. The shebang's condition makes a workspace checkout
 * load the other packages' compiled code too; an installed copy resolves to it anyway.
 */
import { createProgram } from './program.ts';

await createProgram().parseAsync(process.argv);
