import { DomainError } from '../core/errors.js';
import type { AuditActor } from './audit/audit-entry.js';
import type { ApplicantRecord, CreateApplicant } from './model.js';
import type { OrgDirectory } from './org-directory.js';
import type { ControlStore } from './store/control-store.js';

/** Registration of application entities (应用主体): their tokens carry the id as `org`. */
export function createApplicantService(deps: { store: ControlStore; directory: OrgDirectory; now: () => Date }) {
  return {
    async create(actor: AuditActor, input: CreateApplicant): Promise<ApplicantRecord> {
      return deps.store.mutate(async (tx) => {
        if (await tx.reader.getApplicant(input.id)) throw new DomainError('APP_ERR_ALREADY_EXISTS', `applicant ${input.id} already exists`);
        // SECURITY: invariant 4: an org id names one organization. An applicant under a tenant's id
        // would make that operating entity the recipient of its own exports (red-team pass 14b).
        if (await tx.reader.getTenant(input.id)) throw new DomainError('APP_ERR_ALREADY_EXISTS', `${input.id} is the id of a licensed operating entity (tenant): an org id names one organization`);
        const record: ApplicantRecord = { ...input, createdAt: deps.now().toISOString() };
        await tx.insertApplicant(record);
        await tx.appendAudit({ actor, action: 'applicant.create', target: `applicant:${input.id}`, details: { name: input.name } });
        tx.afterCommit(() => deps.directory.putApplicant(record));
        return record;
      });
    },
    list: () => deps.store.reader.listApplicants(),
    get(id: string): ApplicantRecord {
      const record = deps.directory.applicant(id);
      if (!record) throw new DomainError('APP_ERR_NOT_FOUND', `no applicant ${id}`);
      return record;
    },
  };
}

export type ApplicantService = ReturnType<typeof createApplicantService>;
