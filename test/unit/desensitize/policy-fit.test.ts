/**
 * The policy/column compatibility matrix (desensitize/policy-fit.ts): the examples are
 * refused with a reason that names the column, sensible pairs (every default policy included) are
 * accepted, and types are classified as DuckDB writes them.
 */
import { describe, expect, it } from 'vitest';
import { checkPolicyFit, defaultPolicy, fittingRules, PII_KINDS, typeClassOf, type ColumnPolicy } from '../../../desensitize/index.js';

const col = (name: string, type: string, piiKind: string | null = null) => ({ name, type, piiKind });

describe('typeClassOf', () => {
  it('classifies DuckDB types', () => {
    const cases: [string, string][] = [
      ['VARCHAR', 'text'], ['BIGINT', 'integer'], ['INTEGER', 'integer'], ['HUGEINT', 'integer'], ['UBIGINT', 'integer'], ['TINYINT', 'integer'],
      ['DECIMAL(18,0)', 'integer'], ['DECIMAL(18,3)', 'decimal'], ['DOUBLE', 'decimal'], ['FLOAT', 'decimal'],
      ['DATE', 'date'], ['TIMESTAMP', 'timestamp'], ['TIMESTAMP WITH TIME ZONE', 'timestamp'], ['TIMESTAMP_NS', 'timestamp'],
      ['BOOLEAN', 'boolean'], ['VARCHAR[]', 'other'], ['STRUCT(a INTEGER)', 'other'], ['BLOB', 'other'], ['TIME', 'other'], ['INTERVAL', 'other'],
    ];
    for (const [type, expected] of cases) expect(typeClassOf(type), type).toBe(expected);
  });
});

describe('checkPolicyFit: the issue\'s examples are refused, saying why and which column', () => {
  it('a mobile mask on a DOUBLE', () => {
    const [misfit, ...rest] = checkPolicyFit({ kind: 'mask', rule: 'mobile' }, col('amount', 'DOUBLE'));
    expect(rest).toEqual([]);
    expect(misfit).toMatchObject({ column: 'amount', rule: 'mask mobile', reason: 'type' });
    expect(misfit!.message).toMatch(/^mask mobile does not fit column amount: it is DOUBLE \(decimal numbers\), and mask mobile reads mobile numbers.*as text or integers/);
    // It says what would fit instead.
    expect(misfit!.fitting).toContain('generalize bucket:<width>');
    expect(misfit!.fitting).not.toContain('mask mobile');
    // Even where recognition had said mobile: a DOUBLE prints 13812345678 as 13812345678.0.
    expect(checkPolicyFit({ kind: 'mask', rule: 'mobile' }, col('phone', 'DOUBLE', 'mobile'))[0]?.reason).toBe('type');
  });

  it('a year generalization on names', () => {
    const [misfit] = checkPolicyFit({ kind: 'generalize', rule: 'year' }, col('name', 'VARCHAR', 'name'));
    expect(misfit).toMatchObject({ column: 'name', rule: 'generalize year', reason: 'kind' });
    expect(misfit!.message).toMatch(/column name: it was recognized as name, and generalize year reads dates/);
    expect(misfit!.fitting).toEqual(expect.arrayContaining(['mask name', 'hidden', 'plain']));
  });

  it('a resident-ID derivation on a district, as names or as codes', () => {
    for (const type of ['VARCHAR', 'BIGINT']) {
      const misfits = checkPolicyFit({ kind: 'plain', derive: ['birth_year', 'gender', 'region'] }, col('district', type));
      expect(misfits).toHaveLength(1);
      expect(misfits[0]).toMatchObject({ column: 'district', rule: 'derive (birth_year, gender, region)', reason: 'kind' });
      expect(misfits[0]!.message).toMatch(/column district: recognition found no personal data in it, and derive .* reads resident IDs/);
    }
  });
});

describe('checkPolicyFit: other misfits', () => {
  const refused: [string, ColumnPolicy, ReturnType<typeof col>, 'type' | 'kind'][] = [
    // scrub leaves addresses as they are: on an address column it would let them all through.
    ['scrub on addresses', { kind: 'mask', rule: 'scrub' }, col('addr', 'VARCHAR', 'address'), 'kind'],
    // A bucket of 1,000 over mobile numbers shows their first eight digits.
    ['a bucket over mobiles', { kind: 'generalize', rule: 'bucket:1000' }, col('phone', 'BIGINT', 'mobile'), 'kind'],
    ['a bucket over text', { kind: 'generalize', rule: 'bucket:10' }, col('code', 'VARCHAR'), 'type'],
    ['a mobile mask on names', { kind: 'mask', rule: 'mobile' }, col('name', 'VARCHAR', 'name'), 'kind'],
    ['a mobile mask on an unrecognized column', { kind: 'mask', rule: 'mobile' }, col('district', 'VARCHAR'), 'kind'],
    ['a fixed-line mask on integers (the area code lost its 0)', { kind: 'mask', rule: 'fixed_line' }, col('tel', 'BIGINT', 'fixed_line'), 'type'],
    ['a token of booleans', { kind: 'token', rule: 'identifier' }, col('flag', 'BOOLEAN'), 'type'],
    ['an identifier token of resident IDs (grouped and ungrouped would differ)', { kind: 'token', rule: 'identifier' }, col('id', 'VARCHAR', 'resident_id'), 'kind'],
    ['a resident-ID token on mobiles', { kind: 'token', rule: 'resident_id' }, col('phone', 'VARCHAR', 'mobile'), 'kind'],
    ['keep on free text', { kind: 'mask', rule: 'keep:2:2' }, col('notes', 'VARCHAR', 'free_text'), 'kind'],
    ['keep on dates', { kind: 'mask', rule: 'keep:4:0' }, col('day', 'DATE'), 'type'],
    ['a year on booleans', { kind: 'generalize', rule: 'year' }, col('flag', 'BOOLEAN'), 'type'],
    ['an age band on resident IDs', { kind: 'generalize', rule: 'age_band' }, col('id', 'VARCHAR', 'resident_id'), 'kind'],
    ['a region prefix on dates', { kind: 'generalize', rule: 'region_prefix:4' }, col('day', 'DATE'), 'type'],
    ['a region prefix on USCCs (their region is not at the start)', { kind: 'generalize', rule: 'region_prefix:4' }, col('uscc', 'VARCHAR', 'uscc'), 'kind'],
    ['a name mask on a list', { kind: 'mask', rule: 'name' }, col('names', 'VARCHAR[]', 'name'), 'type'],
  ];
  for (const [what, policy, column, reason] of refused) {
    it(`refuses ${what}`, () => {
      const misfits = checkPolicyFit(policy, column);
      expect(misfits.map((m) => m.reason)).toEqual([reason]);
      expect(misfits[0]!.message).toContain(`column ${column.name}`);
    });
  }

  it('reports the rule and the derivation separately when both misfit', () => {
    const misfits = checkPolicyFit({ kind: 'mask', rule: 'mobile', derive: ['gender'] }, col('district', 'VARCHAR'));
    expect(misfits.map((m) => m.rule)).toEqual(['mask mobile', 'derive (birth_year, gender, region)']);
  });

  it('leaves unknown rules to checkPolicy', () => {
    expect(checkPolicyFit({ kind: 'mask', rule: 'nonsense' }, col('a', 'VARCHAR'))).toEqual([]);
  });
});

describe('checkPolicyFit: sensible pairs are accepted', () => {
  it('accepts the default policy of every recognized kind, in the types recognition finds it in', () => {
    const types: Record<string, string[]> = {
      resident_id: ['VARCHAR', 'BIGINT'], mobile: ['VARCHAR', 'BIGINT', 'DECIMAL(11,0)'], bank_card: ['VARCHAR', 'HUGEINT'],
      birth_date: ['VARCHAR', 'BIGINT', 'INTEGER', 'DATE', 'TIMESTAMP'],
    };
    for (const kind of [...PII_KINDS, null]) {
      for (const type of types[kind ?? ''] ?? ['VARCHAR']) {
        expect(checkPolicyFit(defaultPolicy(kind), col('c', type, kind)), `${kind} ${type}`).toEqual([]);
      }
    }
  });

  const accepted: [string, ColumnPolicy, ReturnType<typeof col>][] = [
    ['a mobile mask on a BIGINT of mobiles', { kind: 'mask', rule: 'mobile' }, col('phone', 'BIGINT', 'mobile')],
    ['a bucket on amounts', { kind: 'generalize', rule: 'bucket:100' }, col('amount', 'DOUBLE')],
    ['a bucket on a DECIMAL', { kind: 'generalize', rule: 'bucket:0.5' }, col('rate', 'DECIMAL(10,2)')],
    ['a bucket on counts', { kind: 'generalize', rule: 'bucket:10' }, col('n', 'INTEGER')],
    ['a month on registration dates', { kind: 'generalize', rule: 'month' }, col('registered', 'DATE')],
    ['a year on dates written as text', { kind: 'generalize', rule: 'year' }, col('registered', 'VARCHAR')],
    ['an age band on YYYYMMDD birth dates', { kind: 'generalize', rule: 'age_band:5' }, col('csrq', 'INTEGER', 'birth_date')],
    ['a region prefix on region codes', { kind: 'generalize', rule: 'region_prefix:4' }, col('district_code', 'VARCHAR')],
    ['a region prefix on resident IDs', { kind: 'generalize', rule: 'region_prefix:2' }, col('id', 'VARCHAR', 'resident_id')],
    ['derived columns next to a hidden resident ID', { kind: 'hidden', derive: ['birth_year', 'region'] }, col('id', 'VARCHAR', 'resident_id')],
    ['derived columns next to a masked resident ID', { kind: 'mask', rule: 'resident_id', derive: ['gender'] }, col('id', 'BIGINT', 'resident_id')],
    ['a token of mobiles', { kind: 'token', rule: 'identifier' }, col('phone', 'VARCHAR', 'mobile')],
    ['a token of an unrecognized key', { kind: 'token' }, col('case_no', 'BIGINT')],
    ['a text token of names', { kind: 'token', rule: 'text' }, col('name', 'VARCHAR', 'name')],
    ['keep on names', { kind: 'mask', rule: 'keep:1:0' }, col('name', 'VARCHAR', 'name')],
    ['keep on a bank card BIGINT', { kind: 'mask', rule: 'keep:6:4' }, col('card', 'BIGINT', 'bank_card')],
    ['scrub on free text', { kind: 'mask', rule: 'scrub' }, col('notes', 'VARCHAR', 'free_text')],
    ['scrub on unrecognized text', { kind: 'mask', rule: 'scrub' }, col('remarks', 'VARCHAR')],
    ['plain on a boolean', { kind: 'plain' }, col('flag', 'BOOLEAN')],
    ['hidden on a struct', { kind: 'hidden' }, col('s', 'STRUCT(a INTEGER)')],
    ['plain on names, with a reason', { kind: 'plain', reason: '法定代表人姓名公开' }, col('legal_rep', 'VARCHAR', 'name')],
  ];
  for (const [what, policy, column] of accepted) {
    it(`accepts ${what}`, () => expect(checkPolicyFit(policy, column)).toEqual([]));
  }

  it('lists the rules that fit a column', () => {
    expect(fittingRules({ type: 'BOOLEAN', piiKind: null })).toEqual(['plain', 'hidden']);
    expect(fittingRules({ type: 'DOUBLE', piiKind: null })).toEqual(['plain', 'hidden', 'generalize bucket:<width>']);
    expect(fittingRules({ type: 'VARCHAR', piiKind: 'mobile' })).toEqual(['plain', 'hidden', 'mask mobile', 'mask keep:<first>:<last>', 'token identifier', 'token text']);
  });
});
