import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** A node of a V8 `.cpuprofile` (what `--cpu-prof` writes). */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function readCpuProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

/**
 * The main thread's profile among those `--cpu-prof-dir` collected for one process: the largest
 * (tsx's loader and worker threads write small ones of their own).
 */
export function mainThreadProfile(dir: string): CpuProfile {
  const [file] = readdirSync(dir)
    .map((name) => path.join(dir, name))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  if (!file) throw new Error(`no profile in ${dir}`);
  return readCpuProfile(file);
}
