// client.ts: a small API client typed by what openapi-typescript generates from docs/openapi.yaml (the seed's "shared types"); tests/static/types.t type-checks it with tsc, so the spec cannot drift from what a client compiles against.
import type { components, paths } from './api';

type Schemas = components['schemas'];
export type Job = Schemas['RankedJob'];
export type JobFilters = NonNullable<paths['/api/jobs']['get']['parameters']['query']>;
type JobPage = paths['/api/jobs']['get']['responses']['200']['content']['application/json'];
type ProposalOne = paths['/api/proposals/{id}']['get']['responses']['200']['content']['application/json'];
type ProposalPatch = paths['/api/proposals/{id}']['patch']['requestBody']['content']['application/json'];
type ErrorBody = Schemas['Error'];
type RateLimited = Schemas['RateLimitError'];

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: ErrorBody) {
    super(`${status} ${body.code}: ${body.error}`);
  }
}

export class Client {
  constructor(private readonly base: string, private readonly token: () => Promise<string>) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.base + path, {
      method,
      headers: { Authorization: `Bearer ${await this.token()}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json: unknown = await res.json();
    if (!res.ok) throw new ApiError(res.status, json as ErrorBody);
    return json as T;
  }

  async jobs(filters: JobFilters = {}): Promise<{ jobs: Job[]; more: boolean }> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v !== undefined) q.set(k, String(v));
    const page = await this.call<JobPage>('GET', `/api/jobs?${q}`);
    return { jobs: page.data, more: page.pagination.hasMore };
  }

  async proposal(id: string): Promise<ProposalOne['data']> {
    return (await this.call<ProposalOne>('GET', `/api/proposals/${encodeURIComponent(id)}`)).data;
  }

  async move(id: string, patch: ProposalPatch): Promise<void> {
    await this.call('PATCH', `/api/proposals/${encodeURIComponent(id)}`, patch);
  }
}

// The realtime events, typed by the same document (x-events).
export function describeJob(job: Schemas['JobNewEvent']): string {
  const budget = job.budget.max ?? job.budget.min ?? 0;
  return `${job.title} (${job.match.score}/100 for ${job.matchUserId}, $${budget}, search ${job.searchId})`;
}

export function describeProposal(p: Schemas['ProposalUpdatedEvent']): string {
  const last = p.history[p.history.length - 1];
  return `${p.id}: ${p.previousStatus ?? 'new'} -> ${p.status} (${p.cause}: ${p.changes.join(', ')}; by ${last?.by ?? 'nobody'})`;
}

export function retryAfter(e: RateLimited): number {
  return Math.max(1, e.reset - Math.floor(Date.now() / 1000));
}

// What the spec forbids must not compile.
// @ts-expect-error: status is one of the lifecycle's states
export const badStatus: ProposalPatch = { status: 'sent' };
// @ts-expect-error: a job's match score is a number
export const badScore: Job['match']['score'] = '90';
// @ts-expect-error: proposal:updated says why it was sent
export const noCause: Schemas['ProposalUpdatedEvent']['cause'] = 'deleted';
