/** Check characters and formats against the published vectors (reference/pii-and-masking.md). */
import { describe, expect, it } from 'vitest';
import { isValidResidentId, isValidUscc, luhnCheckDigit, luhnValid, residentIdCheckChar, upgradeResidentId } from '../../../desensitize/index.js';

const TODAY = '2026-11-22';

describe('resident IDs', () => {
  it.each(['11010519491231002X', '321083197812162119', '150102198807303035', '33010219200403064X', '51343620000320711X', '81000019980902013X'])('accepts %s', (id) => {
    expect(isValidResidentId(id, TODAY)).toBe(true);
  });
  it('accepts a lowercase x and full-width digits', () => {
    expect(isValidResidentId('11010519491231002x', TODAY)).toBe(true);
    expect(isValidResidentId('１１０１０５１９４９１２３１００２Ｘ', TODAY)).toBe(true);
  });
  it('refuses a wrong check character, an impossible date and a future birth date', () => {
    expect(isValidResidentId('110105194912310021', TODAY)).toBe(false);
    expect(isValidResidentId(`110105${'19490230'}002${residentIdCheckChar('11010519490230002')}`, TODAY)).toBe(false);
    const future = `11010520991231002`;
    expect(isValidResidentId(future + residentIdCheckChar(future), TODAY)).toBe(false);
  });
  it('upgrades a legacy 15-digit ID', () => {
    expect(upgradeResidentId('150102880730303')).toBe('150102198807303035');
  });
});

describe('unified social credit codes', () => {
  it.each(['91310110666007217T', '91310115591693856A', '91350100M000100Y43'])('accepts %s', (code) => {
    expect(isValidUscc(code)).toBe(true);
  });
  it('refuses a wrong check character and forbidden letters', () => {
    expect(isValidUscc('91310110666007217A')).toBe(false);
    expect(isValidUscc('9131011066600721IT')).toBe(false);
  });
});

describe('Luhn', () => {
  it('computes check digits that validate, never 10', () => {
    for (const payload of ['622202123456789012', '7992739871', '0', '621700000000000']) {
      const digit = luhnCheckDigit(payload);
      expect(digit).toMatch(/^\d$/);
      expect(luhnValid(payload + digit)).toBe(true);
    }
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
  });
});
