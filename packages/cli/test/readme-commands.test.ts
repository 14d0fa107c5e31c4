/*
 * The README's command table is the tool's reference: every command `--help` lists, at every
 * level, has a row in it, and every row names a real command.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createProgram } from '../src/program.ts';
import { buildOnce, ROOT, runCli } from './run-cli.ts';

const test = suite('control-layer README command table');

buildOnce();

/** The command names in the `Commands:` section of one `--help` (`help` itself left out). */
function helpCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1] ?? '').filter((name) => name !== 'help');
}

/**
 * Every command path `--help` shows, recursively: `migrate`, `keys cap`, … (groups without their
 * leaves). Read from the text `--help` prints (`helpInformation()`), in this process: one
 * process per level would take minutes; the first test shows the text is the tool's.
 */
function commandsInHelp(command: Command, prefix: string[] = []): string[] {
  return helpCommands(command.helpInformation()).flatMap((name) => {
    const sub = command.commands.find((c) => c.name() === name);
    assert.ok(sub, `--help lists ${name}, which is no command`);
    const below = commandsInHelp(sub, [...prefix, name]);
    return below.length === 0 ? [[...prefix, name].join(' ')] : below;
  });
}

/**
 * The command paths the README's table names: each backticked form in the first column, up to
 * its first argument or option, with `a\|b` alternatives expanded (`groups add-user\|remove-user`).
 */
function commandsInReadme(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('| command'), readme.indexOf('\n\n', readme.indexOf('| command')));
  const paths: string[] = [];
  for (const row of table.split('\n').slice(2)) {
    const first = row.split(/(?<!\\)\|/)[1] ?? '';
    for (const [, form] of first.matchAll(/`([^`]+)`/g)) {
      const words: string[][] = [];
      for (const word of (form ?? '').split(' ')) {
        if (/^[<[-]/.test(word) || /^[A-Z_]+$/.test(word)) break;
        words.push(word.split('\\|'));
      }
      let expanded = [''];
      for (const choices of words) expanded = expanded.flatMap((p) => choices.map((c) => `${p} ${c}`.trim()));
      paths.push(...expanded);
    }
  }
  return paths;
}

test('the tool prints the help this test reads', async () => {
  for (const args of [[], ['keys']]) {
    const run = await runCli([...args, '--help']);
    assert.is(run.code, 0, run.stderr);
    let command = createProgram();
    for (const name of args) command = command.commands.find((c) => c.name() === name) ?? command;
    // Wrapped to the terminal's width, which differs between a pipe and this process's stdout.
    const words = (text: string) => text.replace(/\s+/g, ' ').trim();
    assert.is(words(run.stdout), words(command.helpInformation()));
  }
});

test('every command in --help, at every level, is in the README table, and nothing else is', () => {
  const inHelp = commandsInHelp(createProgram()).sort();
  const inReadme = new Set(commandsInReadme());
  assert.ok(inHelp.length > 40, `only ${inHelp.length} commands found in --help`);
  assert.equal(
    inHelp.filter((command) => !inReadme.has(command)),
    [],
    'in --help but missing from the README table',
  );
  assert.equal(
    [...inReadme].filter((command) => !inHelp.includes(command)),
    [],
    'in the README table but not a command',
  );
});

test.run();
