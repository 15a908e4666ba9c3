/**
 * Issue #10: the dev twin's join-match error on the demo domain. For each ordered pair of
 * same-kind identifier columns (residents ⋈ social insurance on resident ID, enterprises ⋈ social
 * insurance on USCC), the share of one side's rows that find a match on the other, in prod (the
 * granted data) and in dev (the twin), through POST /v1/query as the demo operator. Also the joins'
 * row counts relative to each environment's table sizes, and rows per person. Prints figures;
 * asserts nothing. Called from run.ts with a running server that seeded the demo domain.
 */

const PAIRS: { left: [string, string]; right: [string, string] }[] = [
  { left: ['social_insurance', 'id_card'], right: ['residents', 'id_card'] },
  { left: ['residents', 'id_card'], right: ['social_insurance', 'id_card'] },
  { left: ['social_insurance', 'employer_uscc'], right: ['enterprises', 'uscc'] },
  { left: ['enterprises', 'uscc'], right: ['social_insurance', 'employer_uscc'] },
];

export async function benchTwinJoins(url: string, token: string, seededMs: number): Promise<void> {
  const query = async (sql: string, env: 'dev' | 'prod'): Promise<number[]> => {
    const res = await fetch(`${url}/v1/query`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ sql, env }) });
    const body = await res.json() as { rows?: string[][]; message?: string };
    if (res.status !== 200 || !body.rows) throw new Error(`${env} ${sql}: ${res.status} ${body.message}`);
    return body.rows[0]!.map(Number);
  };
  console.log(`\n## Dev twin joins on the demo domain (issue #10; server ready with the demo seeded and built in ${(seededMs / 1000).toFixed(1)} s)`);
  console.log('| rows of … found in … | prod | dev | error |');
  console.log('|---|---|---|---|');
  let worst = 0;
  for (const { left: [a, aColumn], right: [b, bColumn] } of PAIRS) {
    const sql = `SELECT count(*) FILTER (WHERE ${aColumn} IN (SELECT ${bColumn} FROM ${b})), count(${aColumn}) FROM ${a}`;
    const [prodMatched, prodTotal] = await query(sql, 'prod');
    const [devMatched, devTotal] = await query(sql, 'dev');
    const prod = prodMatched! / prodTotal!;
    const dev = devMatched! / devTotal!;
    worst = Math.max(worst, Math.abs(dev - prod));
    console.log(`| ${a}.${aColumn} → ${b}.${bColumn} | ${(prod * 100).toFixed(1)}% of ${prodTotal!.toLocaleString('en')} | ${(dev * 100).toFixed(1)}% of ${devTotal!.toLocaleString('en')} | ${((dev - prod) * 100).toFixed(1)} pp |`);
  }
  console.log(`largest error ${(worst * 100).toFixed(1)} pp (target <= 10 pp)`);
  const joinSql = 'SELECT (SELECT count(*) FROM social_insurance s JOIN residents r ON s.id_card = r.id_card JOIN enterprises e ON s.employer_uscc = e.uscc), (SELECT count(*) FROM social_insurance)';
  const perKeySql = (column: string) => `SELECT count(${column}) / count(DISTINCT ${column}) FROM social_insurance`;
  for (const env of ['prod', 'dev'] as const) {
    const [joined, payments] = await query(joinSql, env);
    const [perPerson] = await query(perKeySql('id_card'), env);
    const [perEmployer] = await query(perKeySql('employer_uscc'), env);
    const [residents] = await query('SELECT count(*) FROM residents', env);
    const [enterprises] = await query('SELECT count(*) FROM enterprises', env);
    console.log(`${env}: social_insurance ⋈ residents ⋈ enterprises ${joined!.toLocaleString('en')} rows of ${payments!.toLocaleString('en')} payments (${(joined! / payments! * 100).toFixed(1)}%); ${perPerson!.toFixed(2)} payments per person, ${perEmployer!.toFixed(1)} per employer; residents ${residents!.toLocaleString('en')}, enterprises ${enterprises!.toLocaleString('en')}`);
  }
}
