/**
 * Pure data-protection logic: identifier formats and checks, masks compiled to DuckDB SQL with
 * TypeScript references. No I/O, no clock, no logging.
 */
export * from './identifiers.js';
export { FULLY_MASKED, MASK_KINDS, MASKS, keepFirstLast, type MaskKind, type MaskRule } from './masks.js';
export { entityKeyRule, entityNormalization, isEntityKey, tokenize, tokenRule, normalizeForToken, hmacSha256HexSql, TOKEN_HEX_CHARS, type TokenNormalization } from './tokens.js';
export {
  binomialTailLog10, FINGERPRINT_SCHEME, fingerprintKeys, markAgreement, markAgrees, markedNumberSql, markScaled, MAX_MARK_DECIMALS, rekeyToken, rekeyTokenSql, scaledValue, shownNumber, TOKEN_SHAPE,
  tokenAgreement, tokenTagMatches, unitText, type FingerprintKeys, type MarkKind,
} from './fingerprint.js';
export { toYear, toMonth, toAgeBand, toBucket, toRegionPrefix, idBirthYear, idGender, idRegionPrefix, type GeneralizeRule } from './generalize.js';
export { recognizeColumn, PII_KINDS, type PiiKind, type Recognition } from './recognize.js';
export { adminPrefix, adminPrefixSql } from './admin-prefix.js';
export { findEmbeddedIdentifiers, isFreeTextWithIdentifiers, scrub, type EmbeddedKind } from './free-text.js';
export {
  pickSql, residentIdSql, mobileSql, usccSql, bankCardSql, nameSql, addressSql, regionCodeSql, emailSql, plateSql, passportSql, fixedLineSql,
  birthDateSql, freeTextSql,
} from './synthetic.js';
export { REGIONS } from './data/regions.js';
export { personNumberColumns, rowsOfPeople, type ProfiledColumn } from './person-numbers.js';
export { canShowDoubt, compileDoubtfulKeys, compileMergedKeys, IN_TEXT_KINDS, witnessKindOf, type DoubtSource, type IdentifierColumn, type WitnessColumn, type WitnessKind } from './doubtful-keys.js';
export { checkPolicy, compilePolicySelect, defaultPolicy, ENTITY_COLUMN, GENERALIZE_RULES, type ColumnPolicy, type EntityKeyOptions, type PolicyKind, type PolicySelectOptions } from './policy.js';
export {
  classifyPublished, DEFAULT_DISCLOSURE_RULES, entityCandidates, entityColumnOf, failedRules, judgeCell, ruleReason, secondarySuppression,
  type SecondarySuppression, type SuppressionRow, type CellRule, type CellStats, type CellVerdict, type DisclosureRules, type TablePrivacy,
} from './disclosure.js';
export { twinNullShare, twinSql, type TwinColumn } from './twin.js';
export { quoteIdentifier, sqlString, twoStepSelect, type SqlRule } from './sql.js';
export { checkPolicyFit, fittingRules, ruleKeyOf, type FitColumn, type PolicyMisfit } from './policy-fit.js';
export { isNumberType, isTemporalType, typeClassOf, TYPE_CLASSES, type TypeClass } from './type-classes.js';
export { previewPlan, PREVIEW_ROWS, type PreviewColumn, type PreviewPlan } from './policy-preview.js';
export { neutralizeCsvCell, neutralizeCsvCellSql, restoreCsvCell } from './csv-cells.js';
export {
  isJoinKind, joinKeysSql, normalizedKeysSql, layoutPopulation, planTwins, roundCount, roundRate, JOIN_KINDS,
  type JoinKind, type KeyedDataset, type KeyLink, type KeyProfile, type RowsPerKeyBucket, type TwinKeyPlan, type TwinPlan,
} from './twin-population.js';
