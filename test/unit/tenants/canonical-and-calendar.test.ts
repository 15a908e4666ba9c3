/** Pure helpers the chain and licensing depend on. */
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../tenants/audit/canonical-json.js';
import { hashAuditEntry } from '../../../tenants/audit/audit-entry.js';
import { addYears, calendarDate, calendarDateProblem, startOfDay } from '../../../tenants/calendar.js';

describe('canonicalJson', () => {
  it('encodes equal values identically whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x', null], c: true } })).toBe('{"a":{"c":true,"d":[1,"x",null]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });
  it('refuses values JSON cannot carry faithfully', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow();
    expect(() => canonicalJson({ n: 1n })).toThrow();
  });
  it('makes the entry hash depend on every field', () => {
    const entry = { seq: 1, ts: 't', actor: { sub: 's', role: 'system' as const, org: 'o' }, action: 'a', target: 'x', details: {}, prevHash: '0' };
    const base = hashAuditEntry(entry);
    for (const changed of [{ seq: 2 }, { ts: 'u' }, { action: 'b' }, { target: 'y' }, { details: { k: 1 } }, { prevHash: '1' }, { actor: { ...entry.actor, sub: 't' } }]) {
      expect(hashAuditEntry({ ...entry, ...changed })).not.toBe(base);
    }
  });
});

describe('calendar', () => {
  it('counts days where the authority is', () => {
    // 16:30 UTC is already the next day in Shanghai.
    expect(calendarDate(new Date('2026-03-01T16:30:00Z'), 'Asia/Shanghai')).toBe('2026-03-02');
    expect(calendarDate(new Date('2026-03-01T16:30:00Z'), 'UTC')).toBe('2026-03-01');
  });
  it('adds calendar years, rolling 29 February forward', () => {
    expect(addYears('2026-05-31', 3)).toBe('2029-05-31');
    expect(addYears('2028-02-29', 3)).toBe('2031-03-01');
  });
});

describe('calendar dates that do not exist, and where a day starts', () => {
  it('says why a YYYY-MM-DD names no day', () => {
    expect(calendarDateProblem('2026-02-30')).toBe('2026-02-30 does not exist: February 2026 has 28 days');
    expect(calendarDateProblem('2028-02-30')).toBe('2028-02-30 does not exist: February 2028 has 29 days');
    expect(calendarDateProblem('2100-02-29')).toBe('2100-02-29 does not exist: February 2100 has 28 days');
    expect(calendarDateProblem('2026-04-31')).toBe('2026-04-31 does not exist: April 2026 has 30 days');
    expect(calendarDateProblem('2026-00-10')).toBe('2026-00-10 does not exist: there is no month 0');
    expect(calendarDateProblem('2026-01-00')).toBe('2026-01-00 does not exist: January 2026 has 31 days');
    for (const ok of ['2000-02-29', '2028-02-29', '2026-12-31', '0050-01-01']) expect(calendarDateProblem(ok)).toBeUndefined();
  });

  it('starts a day at midnight in the given zone', () => {
    expect(startOfDay('2026-11-30', 'Asia/Shanghai').toISOString()).toBe('2026-11-29T16:00:00.000Z');
    expect(startOfDay('2026-11-30', 'UTC').toISOString()).toBe('2026-11-30T00:00:00.000Z');
    // Across daylight saving time: New York is UTC-4 in July and UTC-5 in January.
    expect(startOfDay('2026-07-01', 'America/New_York').toISOString()).toBe('2026-07-01T04:00:00.000Z');
    expect(startOfDay('2026-01-01', 'America/New_York').toISOString()).toBe('2026-01-01T05:00:00.000Z');
  });
});
