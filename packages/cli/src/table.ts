/** Rows as left-aligned columns under a header, for readable listings. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** One column of a listing: its header and how a row fills it. */
export type Column<T> = readonly [header: string, cell: (row: T) => string];

/** Rows as a table of the given columns: a column more is one entry more. */
export function columns<T>(spec: readonly Column<T>[], rows: readonly T[]): string {
  return table(
    spec.map(([header]) => header),
    rows.map((row) => spec.map(([, cell]) => cell(row))),
  );
}
