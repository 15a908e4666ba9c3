import { idBirthYear, MASKS, mobileSql, residentIdSql } from '../../desensitize/index.js';
import { openDatabase } from '../../sandbox/index.js';
import { SYSTEM_ACTOR } from '../../tenants/audit/audit-entry.js';
import { expectStatus } from './expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from './test-app.js';

/**
 * The `pay` dataset of the person-level check tests: 400 people with 20 payments each, under the
 * default policies (resident ID tokenized with derived birth year, gender and region; mobile
 * masked). Person 0 lives alone in 孤岛区; person 1 pays 10,000,000 a month (二区, dominating its
 * sums); the others pay 100–149 and live in 一区…四区 (person p in district p % 4).
 */
export const PAYMENTS_SQL = `
  SELECT ${residentIdSql('p', 11)} AS id_card, ${mobileSql('p', 11)} AS mobile,
    CASE WHEN p = 0 THEN '孤岛区' ELSE ['一区', '二区', '三区', '四区'][1 + p % 4] END AS district,
    CASE WHEN p = 1 THEN 10000000.0 ELSE 100.0 + (i % 50) END AS amount
  FROM (SELECT range AS i, range // 20 AS p FROM range(8000))`;

/** Ingests `pay` through the trusted pipeline, licenses `tenantId`, grants it and awaits the build. */
export async function licensePayTenant(t: TestApp, tenantId: string): Promise<void> {
  await t.app.controlPlane.catalog.ingestGenerated(SYSTEM_ACTOR, {
    id: 'pay', name: 'pay', provider: 'test', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'once', acquiredAt: '2026-10-31',
  }, PAYMENTS_SQL);
  await licensePayGrantee(t, tenantId);
}

/**
 * Ingests the next version of `pay` without person `p`'s 20 payments (the same columns: an
 * objection honoured, say) and awaits `tenantId`'s rebuild: its prod `pay` is then the new version.
 */
export async function ingestPayWithout(t: TestApp, p: number, tenantId: string): Promise<void> {
  const without = PAYMENTS_SQL.replace('FROM range(8000))', `FROM range(8000) WHERE range // 20 <> ${p})`);
  if (without === PAYMENTS_SQL) throw new Error('PAYMENTS_SQL no longer ends as ingestPayWithout expects');
  await t.app.controlPlane.catalog.ingestGenerated(SYSTEM_ACTOR, {
    id: 'pay', name: 'pay', provider: 'test', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'once', acquiredAt: '2026-11-30',
  }, without);
  await t.app.controlPlane.refinery.refresh(tenantId);
}

/** Licenses `tenantId` and grants it `pay`, already ingested (a second tenant over the same dataset). */
export async function licensePayGrantee(t: TestApp, tenantId: string): Promise<void> {
  const license = licenseAround(new Date(), -1, 100);
  expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: tenantId, name: tenantId, ...license }), 201);
  expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/tenants/${tenantId}/grants`, { dataset: 'pay', purpose: 'test', until: license.licenseTo }), 201);
  await t.app.controlPlane.refinery.refresh(tenantId);
}

/**
 * What an outsider knows about person `p`: the mobile (so its masked form, masks being public
 * rules) and the birth year. Computed from the generator, outside the platform.
 */
export async function knownPerson(p: number): Promise<{ mobile: string; year: number }> {
  const db = await openDatabase(':memory:');
  const connection = await db.connect();
  try {
    const [row] = await connection.all(`SELECT ${mobileSql(String(p), 11)} AS mobile, ${residentIdSql(String(p), 11)} AS id`);
    return { mobile: MASKS.mobile.apply(String(row!.mobile))!, year: Number(idBirthYear.apply(String(row!.id))) };
  } finally {
    connection.close();
    db.close();
  }
}

/**
 * The condition "person `p` paid more than `x`", from what an outsider knows of them (masked mobile
 * and birth year), on the columns of `pay` (`table`: a qualifier such as `p.`).
 */
export async function paidAbove(p: number, x: number, table = ''): Promise<string> {
  return `${await knownAs(p, table)} AND ${table}amount > ${x}`;
}

/** Person `p` as an outsider knows them (masked mobile and birth year), on the columns of `pay` (`table`: a qualifier such as `p.`). */
export async function knownAs(p: number, table = ''): Promise<string> {
  const person = await knownPerson(p);
  return `${table}mobile = '${person.mobile}' AND ${table}id_card_birth_year = ${person.year}`;
}

/**
 * 四区 without person 3, and person 7 only for their payments above x: the first row DuckDB meets
 * is person 7's row 146 when they paid above x (yes at 145), else person 11's row 220 (no at 149).
 * About 98 people either way: the red-team tests' "which row came first" question.
 */
export async function fourWithSeven(x: number, table = ''): Promise<string> {
  return `${table}district = '四区' AND ${table}mobile <> '${(await knownPerson(3)).mobile}' AND (NOT (${await knownAs(7, table)}) OR ${table}amount > ${x})`;
}

/** A test app with `pay` ingested, `tenantId` licensed and granted it, and the applicant `city-lab` registered (an export's recipient). */
export async function startPayApp(tenantId: string): Promise<TestApp> {
  const t = await startTestApp();
  await licensePayTenant(t, tenantId);
  expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
  return t;
}

/**
 * People of 二区 (p % 4 = 1, person 1 excluded: it dominates sums) whose masked mobile no other of
 * the 400 shares, from the generator, outside the platform: filtering on them drops exactly them.
 */
export async function uniqueMaskedMobiles(count: number): Promise<string[]> {
  const db = await openDatabase(':memory:');
  const connection = await db.connect();
  try {
    const rows = await connection.all(`SELECT p, ${mobileSql('p', 11)} AS mobile FROM (SELECT range AS p FROM range(400))`);
    const masked = rows.map((r) => ({ p: Number(r.p), mobile: MASKS.mobile.apply(String(r.mobile))! }));
    const counts = new Map<string, number>();
    for (const m of masked) counts.set(m.mobile, (counts.get(m.mobile) ?? 0) + 1);
    const chosen = masked.filter((m) => m.p % 4 === 1 && m.p !== 1 && counts.get(m.mobile) === 1).slice(0, count).map((m) => m.mobile);
    if (chosen.length < count) throw new Error('the fixture has too few unique masked mobiles');
    return chosen;
  } finally {
    connection.close();
    db.close();
  }
}

/**
 * Payments per district (孤岛区 left out: one person) of the people whose mobile is not among
 * `drop`; rows 一区, 三区, 二区, 四区 (code-point order). `filter`: dropped by a FILTER clause of the
 * count instead of WHERE (the group keeps them, so its own cell-threshold check fails too).
 */
export function paymentsPerDistrict(drop: string[], options: { filter?: boolean } = {}): string {
  const condition = `mobile NOT IN (${drop.map((m) => `'${m}'`).join(', ')})`;
  const where = drop.length > 0 && !options.filter ? ` AND ${condition}` : '';
  const filter = drop.length > 0 && options.filter ? ` FILTER (WHERE ${condition})` : '';
  return `SELECT district, count(*)${filter} AS payments FROM pay WHERE district <> '孤岛区'${where} GROUP BY district ORDER BY district`;
}
