import { SYSTEM_ACTOR } from './audit/audit-entry.js';
import { addDays, addYears } from './calendar.js';
import type { ControlPlane } from './control-plane.js';

export const DEMO_TENANT_ID = 'demo';
export const DEMO_APPLICANT_ID = 'demo-applicant';
export const DEMO_SUPERVISOR_ORG = 'authority';

/**
 * Seeds the demo domain on a first start: a licensed operating entity `demo` (license from today
 * for three years) and an application entity `demo-applicant`. Every step is audited as the system.
 * Demo datasets and grants arrive with the catalog (issue #4).
 */
export async function seedDemoDomain(controlPlane: ControlPlane): Promise<void> {
  const today = controlPlane.today();
  await controlPlane.tenants.create(SYSTEM_ACTOR, {
    id: DEMO_TENANT_ID,
    name: '示范数据运营有限公司 (demo operating entity)',
    licenseFrom: today,
    licenseTo: addDays(addYears(today, 3), -1),
  });
  await controlPlane.applicants.create(SYSTEM_ACTOR, { id: DEMO_APPLICANT_ID, name: '示范应用科技有限公司 (demo application entity)' });
}
