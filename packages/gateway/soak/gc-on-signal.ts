/**
 * Soak-only preload: a full garbage collection on SIGUSR2 (the process runs with --expose-gc), so
 * the soak reads the heap that is really retained, not whatever garbage happens to be pending.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) process.on('SIGUSR2', () => gc());
