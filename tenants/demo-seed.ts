import { addressSql, mobileSql, nameSql, pickSql, residentIdSql, usccSql } from '../desensitize/index.js';
import { SYSTEM_ACTOR } from './audit/audit-entry.js';
import { addDays, addYears } from './calendar.js';
import type { ControlPlane } from './control-plane.js';
import type { DatasetMeta } from './model.js';

export const DEMO_TENANT_ID = 'demo';
export const DEMO_APPLICANT_ID = 'demo-applicant';
export const DEMO_SUPERVISOR_ORG = 'authority';

export const DEMO_SIZES = { residents: 100_000, enterprises: 20_000, socialInsurance: 500_000 } as const;

const DISTRICTS = ['长安区', '桥西区', '新华区', '裕华区', '井陉矿区', '藁城区', '鹿泉区', '栾城区'];
const INDUSTRIES = ['制造业', '批发和零售业', '信息技术服务业', '建筑业', '交通运输业', '住宿和餐饮业', '金融业', '科学研究和技术服务业'];
const COMPANY_WORDS = ['华', '恒', '瑞', '鑫', '泰', '博', '诚', '信', '达', '远', '盛', '安'];

const CATEGORY_SEED = 13;
const pick = (items: readonly string[], index: string, salt: string) => pickSql(items, index, CATEGORY_SEED, salt);

/**
 * The demo domain's raw datasets, generated inside the engine by the synthetic generators: nothing
 * real, but shaped like a city's public data. Social insurance payments reference residents and
 * enterprises by the same generators and seeds, so IDs and USCCs link across the three datasets.
 */
const RESIDENT_SEED = 11;
const ENTERPRISE_SEED = 12;

function residentsSql(): string {
  const id = residentIdSql('i', RESIDENT_SEED);
  return `SELECT ${id} AS id_card, ${nameSql('i', RESIDENT_SEED)} AS name, ${mobileSql('i', RESIDENT_SEED)} AS mobile,
    ${addressSql('i', RESIDENT_SEED)} AS address, ${pick(DISTRICTS, 'i', 'district')} AS district,
    strptime(substr(${id}, 7, 8), '%Y%m%d')::DATE AS birth_date,
    CASE WHEN CAST(substr(${id}, 17, 1) AS INTEGER) % 2 = 1 THEN '男' ELSE '女' END AS gender
    FROM range(${DEMO_SIZES.residents}) t(i)`;
}

function enterprisesSql(): string {
  const name = `${pick(DISTRICTS, 'i', 'e-district')}.replace('区', '') || ${pick(COMPANY_WORDS, 'i', 'w1')} || ${pick(COMPANY_WORDS, 'i', 'w2')} || ${pick(['科技', '商贸', '建设', '实业', '物流'], 'i', 'kind')} || '有限公司'`;
  return `SELECT ${usccSql('i', ENTERPRISE_SEED)} AS uscc, ${name} AS name, ${nameSql('i', ENTERPRISE_SEED)} AS legal_representative,
    ${pick(INDUSTRIES, 'i', 'industry')} AS industry, (10 + hash(i, 'capital') % 9990) * 10000 AS registered_capital,
    ${pick(DISTRICTS, 'i', 'e-district')} AS district
    FROM range(${DEMO_SIZES.enterprises}) t(i)`;
}

function socialInsuranceSql(): string {
  // r and e pick a resident and an enterprise row: the same generator over the same index gives the same ID.
  return `SELECT ${residentIdSql('r', RESIDENT_SEED)} AS id_card, ${usccSql('e', ENTERPRISE_SEED)} AS employer_uscc,
    strftime(DATE '2025-01-01' + INTERVAL (CAST(hash(i, 'month') % 22 AS INTEGER)) MONTH, '%Y-%m') AS month,
    (300 + hash(i, 'amount') % 2700)::DOUBLE AS amount
    FROM (SELECT i, CAST(hash(i, 'resident') % ${DEMO_SIZES.residents} AS BIGINT) AS r, CAST(hash(i, 'employer') % ${DEMO_SIZES.enterprises} AS BIGINT) AS e
          FROM range(${DEMO_SIZES.socialInsurance}) t(i))`;
}

/** `entity`: the column each row is about (people are counted on it), named as a supervisor would. */
function meta(id: string, name: string, provider: string, acquiredAt: string, entity: string): DatasetMeta {
  return { id, name, provider, grade: 'general', level: 2, shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'monthly', acquiredAt, description: '演示数据：本地生成的合成数据，不含任何真实个人信息 (synthetic demo data)', entity };
}

/**
 * Seeds the demo domain on a first start: a licensed operating entity `demo` (three years from
 * today), an application entity `demo-applicant`, three generated public datasets with their
 * default column policies, and grants of all three to `demo`, whose files are then built. Every
 * step is audited as the system. `progress` receives one human-readable line per step (the server
 * prints them: a first start takes a while and should say why).
 */
export async function seedDemoDomain(controlPlane: ControlPlane, progress: (line: string) => void = () => {}): Promise<void> {
  const started = Date.now();
  const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
  const totalRows = Object.values(DEMO_SIZES).reduce((a, b) => a + b, 0);
  progress(`first start: generating the demo domain (${totalRows.toLocaleString('en')} rows of synthetic data), then building tenant ${DEMO_TENANT_ID}'s files`);
  const today = controlPlane.today();
  const licenseTo = addDays(addYears(today, 3), -1);
  await controlPlane.tenants.create(SYSTEM_ACTOR, { id: DEMO_TENANT_ID, name: '示范数据运营有限公司 (demo operating entity)', licenseFrom: today, licenseTo });
  await controlPlane.applicants.create(SYSTEM_ACTOR, { id: DEMO_APPLICANT_ID, name: '示范应用科技有限公司 (demo application entity)' });
  const datasets: [DatasetMeta, string][] = [
    [meta('residents', '常住人口基本信息', '市公安局', today, 'id_card'), residentsSql()],
    [meta('enterprises', '企业登记信息', '市市场监督管理局', today, 'uscc'), enterprisesSql()],
    // Payments are about the payer: the employer's USCC is the other party (recognition alone cannot tell).
    [meta('social_insurance', '社会保险缴费记录', '市人力资源和社会保障局', today, 'id_card'), socialInsuranceSql()],
  ];
  let rowsDone = 0;
  for (const [step, [datasetMeta, sql]] of datasets.entries()) {
    const since = Date.now();
    progress(`  [${step + 1}/${datasets.length + 1}] generating ${datasetMeta.id}…`);
    const view = await controlPlane.catalog.ingestGenerated(SYSTEM_ACTOR, datasetMeta, sql);
    const rows = 'rows' in view ? view.rows : 0;
    rowsDone += rows;
    progress(`  [${step + 1}/${datasets.length + 1}] ${datasetMeta.id}: ${rows.toLocaleString('en')} rows in ${seconds(since)} (${Math.min(100, Math.round((rowsDone / totalRows) * 100))}% of the demo rows)`);
  }
  // Grants queue rebuilds that coalesce: wait for the last one, not for each.
  for (const [datasetMeta] of datasets) {
    await controlPlane.grants.create(SYSTEM_ACTOR, DEMO_TENANT_ID, { dataset: datasetMeta.id, purpose: '演示：人口与就业统计分析', until: licenseTo });
  }
  const since = Date.now();
  progress(`  [${datasets.length + 1}/${datasets.length + 1}] building ${DEMO_TENANT_ID}'s prod and dev files (desensitized data and synthetic twin)…`);
  await controlPlane.refinery.refresh(DEMO_TENANT_ID);
  progress(`  [${datasets.length + 1}/${datasets.length + 1}] ${DEMO_TENANT_ID}'s files built in ${seconds(since)}`);
  progress(`demo domain ready in ${seconds(started)}`);
}
