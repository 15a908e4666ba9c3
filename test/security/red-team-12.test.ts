/**
 * Red-team attacks, twelfth pass (invariant 8 "usable but invisible"), from outside (HTTP only, as
 * operators of org `p12`): learn whether one known person matches a condition, or one person's
 * value, from ONE prod answer, with no refusal counted towards the probing budget. This pass aims
 * at the eleventh's fix (`LOOSE_KEY_TYPES`: grouping keys of INTERVAL and TIME WITH TIME ZONE are
 * uncheckable): other values DuckDB holds equal (one group, one DISTINCT row) whose first-met
 * representative can still be told apart. Each attack asks the same question twice (person 7 paid
 * above 145: yes, 4 payments 146..149; above 149: no), and the SAFE expectation is that the two
 * look the same. `was a hole` failed until the fix it names (the comment says what each
 * world showed); `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts), as in red-team-11.test.ts: person 7 (四区)
 * pays 140..149 (rows 140..149) then 100..109; in 四区 person 3 comes before person 7 and person 11
 * after.
 */
import { describe, expect, it } from 'vitest';
import { fourWithSeven, knownAs } from '../helpers/pay-fixture.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { bothWorlds } = payRedTeam('p12');

const person7 = () => knownAs(7);

/** Person 7's rows get `mine`, everyone else's `theirs` (a DOUBLE expression of equal value). */
const spelled = async (mine: string, theirs: string) => `CASE WHEN ${await person7()} THEN ${mine} ELSE ${theirs} END`;

/**
 * One group of 四区 keyed by `spelled(mine, theirs)` (wrapped by `wrap`), showing `shown(key)`: the
 * key's value in that group is the first row DuckDB met, person 7's row 146 exactly when they paid above x.
 */
const oneGroup = (mine: string, theirs: string, shown: (k: string) => string, wrap = (k: string) => k) => async (x: number) => {
  const k = wrap(await spelled(mine, theirs));
  return `SELECT ${shown(k)} AS s FROM pay WHERE ${await fourWithSeven(x)} GROUP BY ${k}`;
};
const asText = (k: string) => `CAST(${k} AS VARCHAR)`;

describe('holes found by the twelfth pass: keys DuckDB holds equal, told apart by a function of the key', () => {
  it('was a hole (FLOAT and DOUBLE keys are refused: grouping keys come from an allow-list of types): DOUBLE -0.0 and 0.0 are one group whose key prints 0, but a select item CAST(key AS VARCHAR) prints the sign of the first row DuckDB met', async () => {
    // `LOOSE_KEY_TYPES` judges the keys' types (INTERVAL, TIMETZ); a DOUBLE key passes, and the key
    // itself prints 0 either way (JSON has no -0: the eleventh pass's STOPPED test). But the select
    // list may hold any function of the key, evaluated on the group's representative, and the cast
    // keeps the sign. One group of about 98 people, nothing withheld, no pair.
    // Seen: rows [['-0.0']] (yes) against [['0.0']] (no), both 200, disclosure alike.
    const { yes, no } = await bothWorlds(oneGroup('-0.0::DOUBLE', '0.0::DOUBLE', asText));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above, no cast to text): 1 / key over the same DOUBLE group is -Infinity or Infinity', async () => {
    // Any function that tells -0 from 0 will do (1 / k, atan2(k, -1), printf): refusing casts alone closes nothing.
    // Seen: rows [['-Infinity']] (yes) against [['Infinity']] (no), column type DOUBLE.
    const { yes, no } = await bothWorlds(oneGroup('-0.0::DOUBLE', '0.0::DOUBLE', (k) => `1 / ${k}`));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): one person\'s VALUES: grouped by amount beside the sign key, every amount group of 四区 (about 39 people each) prints -0.0 exactly when person 7 paid that amount', async () => {
    // Person 7's rows come first in every amount group of 四区 once person 3 is left out, so the
    // sign column marks each amount person 7 paid. Without the `amount > x` clause (WHERE district =
    // '四区' AND mobile <> person 3) one answer lists all 20 of person 7's payments: 100..109 and
    // 140..149 print -0.0, the other 30 amounts 0.0. No sum, so the pinning rule has nothing to say.
    // Seen: amounts 146..149 print '-0.0' (yes) against '0.0' (no); the 46 others '0.0' in both.
    const sql = async (x: number) => {
      const k = await spelled('-0.0::DOUBLE', '0.0::DOUBLE');
      return `SELECT amount, CAST(${k} AS VARCHAR) AS s FROM pay WHERE ${await fourWithSeven(x)} GROUP BY amount, ${k}`;
    };
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): NaN and -NaN are one group (DuckDB holds every NaN equal), and CAST(key AS VARCHAR) prints nan or -nan', async () => {
    // Seen: rows [['-nan']] (yes) against [['nan']] (no).
    const { yes, no } = await bothWorlds(oneGroup(`-('nan'::DOUBLE)`, `'nan'::DOUBLE`, asText));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above: nested types are refused): the same -0.0 inside a list key ([k], type DOUBLE[]) and a struct key ({\'a\': k})', async () => {
    // Seen: list: rows [['[-0.0]']] (yes) against [['[0.0]']] (no); struct: [["{'a': -0.0}"]] against [["{'a': 0.0}"]].
    const list = await bothWorlds(oneGroup('-0.0::DOUBLE', '0.0::DOUBLE', asText, (k) => `[${k}]`));
    const struct = await bothWorlds(oneGroup('-0.0::DOUBLE', '0.0::DOUBLE', asText, (k) => `{'a': ${k}}`));
    // SAFE: the two look the same, for either key.
    expect([list.yes, struct.yes]).toEqual([list.no, struct.no]);
  });
});

describe('stopped by the twelfth pass', () => {
  it('STOPPED: strings equal under the collations NOACCENT and NFC (\'é\' against \'e\'; composed against decomposed \'é\') are uncheckable, the same in both worlds', async () => {
    for (const [mine, theirs] of [[`'é' COLLATE NOACCENT`, `'e' COLLATE NOACCENT`], [`'\u00e9' COLLATE NFC`, `'\u0065\u0301' COLLATE NFC`]] as const) {
      const { yes, no } = await bothWorlds(oneGroup(mine, theirs, asText));
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes).toEqual(no);
    }
  });

  it('STOPPED: TIMESTAMPTZ of one instant at two offsets, BIGNUM -0 and 0, DECIMALs of two scales are stored alike: one group printed alike in both worlds (TIMESTAMPTZ and BIGNUM keys are now refused: not on the allow-list of key types)', async () => {
    for (const [mine, theirs, status] of [
      [`'2024-01-01 02:00:00+02'::TIMESTAMPTZ`, `'2024-01-01 00:00:00+00'::TIMESTAMPTZ`, 422],
      [`'-0'::BIGNUM`, `'0'::BIGNUM`, 422],
      [`1.0::DECIMAL(4, 1)`, `1.00::DECIMAL(5, 2)`, 200],
    ] as const) {
      for (const shown of [(k: string) => k, asText]) {
        const { yes, no } = await bothWorlds(oneGroup(mine, theirs, shown));
        expect(yes.status).toBe(status);
        expect(yes).toEqual(no);
      }
    }
  });

  it('STOPPED: aggregates that pick a row\'s value (arbitrary, min_by, arg_max, last) are refused for their shape, the same in both worlds', async () => {
    for (const call of ['arbitrary(amount)', 'min_by(amount, amount)', 'arg_max(district, amount)', 'last(amount)']) {
      const { yes, no } = await bothWorlds(async (x) => `SELECT district, ${call} AS v FROM pay WHERE ${await fourWithSeven(x)} GROUP BY district`);
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes).toEqual(no);
    }
  });
});
