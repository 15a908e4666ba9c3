/**
 * The README's tour cuts no character in half: its output is shown whole or summarized by parsing
 * it, never cut at a byte count (`head -c`, `cut -b`/`cut -c`, `dd`), which splits a CJK character
 * (three bytes in UTF-8) and leaves a broken one on the terminal.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('the README tour', () => {
  it('never cuts output at a byte count', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const tour = readme.slice(readme.indexOf('## A five-minute tour'), readme.indexOf('## Configuration'));
    expect(tour).toContain('curl');
    expect(tour).not.toMatch(/\bhead\s+-c|\bcut\s+-[bc]|\bdd\b|\btruncate\b/);
  });
});
