// job-service.js: getJobs for GET /api/jobs on node-postgres: the tenant's jobs, filtered, newest first, one page and the total, under row-level security.
'use strict';
const { Pool } = require('pg');
const config = require('../../config');
const { cached, decorate } = require('../cache/cache-manager');

// A Pool per process with node-postgres's defaults (10 clients); PG* from the environment.
const pool = new Pool();

/*
 * The same statements as cgi-bin/jobs.c, so the row compares the stacks
 * and not the SQL: each filter adds its own predicate with its own
 * placeholder; skills go through job_skills (any of them); budgets are
 * ranges that overlap [minBudget, maxBudget]; an unfiltered or
 * one-skill list is counted from job_counts (sql/0010), a list of
 * several skills alone from job_skills; a one-skill list's page is a
 * range of job_skills by date (sql/0011).  The design's defaults (0, 999999, 0)
 * mean "no filter" and add none.  SEED_SQL=plain sends what one would
 * write from the design instead, with the same results: the skills
 * array's overlap (&&), and one count(*) over the same WHERE.  Under
 * row-level security && cannot use an index (arrayoverlap is not
 * leakproof), so that count reads the whole tenant.
 */
const PLAIN = config.sql === 'plain';
if (!PLAIN && config.sql !== 'ours') throw new Error(`SEED_SQL must be ours or plain, not ${config.sql}`);

const JOB_COLUMNS = `j.id, j.upwork_id, j.title, j.description, j.skills,
  j.budget_type, j.budget_min, j.budget_max, j.currency, j.location,
  j.client_score, j.experience_level, j.applicants, j.ciphertext,
  j.posted_at, j.deadline, c.id AS client_id, c.name AS client_name,
  c.company, c.country, c.city, c.total_spent, c.hire_rate, c.rating,
  c.reviews_count, c.jobs_posted, c.total_hires, c.payment_verified,
  c.member_since`;

function whereClauses(filters) {
  const where = [];
  const params = [];
  const add = (sql, value) => {
    params.push(value);
    where.push(sql.replace('$?', `$${params.length}`));
  };
  if (filters.skills.length > 0 && PLAIN) {
    add('j.skills && $?::text[]', filters.skills.map((s) => s.toLowerCase()));
  } else if (filters.skills.length > 0) {
    add('j.id IN (SELECT s.job_id FROM job_skills s WHERE s.skill = ANY($?::text[]))',
      filters.skills.map((s) => s.toLowerCase()));
  }
  if (filters.minBudget > 0) add('j.budget_max >= $?::numeric', filters.minBudget);
  if (filters.maxBudget < 999999) add('j.budget_min <= $?::numeric', filters.maxBudget);
  if (filters.location) add('j.location_key = lower($?::text)', filters.location);
  if (filters.clientScore > 0) add('j.client_score >= $?::int', filters.clientScore);
  return { where, params };
}

function countStatement(filters, where, params) {
  const skillsOnly = !PLAIN && where.length === 1 && filters.skills.length > 0;
  if (!PLAIN && where.length === 0) {
    return { text: "SELECT coalesce(sum(n), 0) AS count FROM job_counts WHERE skill = ''", values: [] };
  }
  if (skillsOnly && params[0].length === 1) {
    return { text: 'SELECT coalesce(sum(n), 0) AS count FROM job_counts WHERE skill = $1', values: [params[0][0]] };
  }
  if (skillsOnly) {
    return {
      text: 'SELECT count(*) FROM (SELECT DISTINCT job_id FROM job_skills WHERE skill = ANY($1::text[])) s',
      values: params,
    };
  }
  return { text: `SELECT count(*) FROM jobs j WHERE true${where.map((w) => ` AND ${w}`).join('')}`, values: params };
}

const num = (v) => (v === null ? null : Number(v));

// A row as the API's job object (the C stack's shape, without its match score).
function jobOf(r) {
  return {
    id: r.id,
    upworkId: r.upwork_id,
    title: r.title,
    description: r.description,
    skills: r.skills,
    budget: { type: r.budget_type, min: num(r.budget_min), max: num(r.budget_max), currency: r.currency },
    location: r.location,
    clientScore: r.client_score,
    experienceLevel: r.experience_level,
    applicants: r.applicants,
    url: r.ciphertext ? `https://www.upwork.com/jobs/${r.ciphertext}` : null,
    createdAt: r.posted_at,
    applicationDeadline: r.deadline,
    client: r.client_id === null ? null : {
      id: r.client_id,
      name: r.client_name,
      company: r.company,
      location: { country: r.country, city: r.city },
      totalSpent: num(r.total_spent),
      hireRate: num(r.hire_rate),
      rating: num(r.rating),
      reviewsCount: r.reviews_count,
      jobsPosted: r.jobs_posted,
      totalHires: r.total_hires,
      paymentVerified: r.payment_verified,
      memberSince: r.member_since,
    },
  };
}

class JobService {
  // filters as the route builds them; tenantId from the auth middleware's x-tenant-id.
  async getJobs(filters, tenantId) {
    const { where, params } = whereClauses(filters);
    const count = countStatement(filters, where, params);
    const n = params.length;
    const oneSkill = !PLAIN && where.length === 1 && filters.skills.length > 0 && params[0].length === 1;
    const page = oneSkill ? {
      text: `SELECT ${JOB_COLUMNS} FROM jobs j LEFT JOIN clients c`
        + ' ON c.tenant_id = j.tenant_id AND c.id = j.client_id WHERE j.id IN'
        + ' (SELECT s.job_id FROM job_skills s WHERE s.skill = $1'
        + ' ORDER BY s.posted_at DESC, s.job_id DESC LIMIT $2::int OFFSET $3::int)'
        + ' ORDER BY j.posted_at DESC, j.id DESC',
      values: [params[0][0], filters.limit, (filters.page - 1) * filters.limit],
    } : {
      text: `SELECT ${JOB_COLUMNS} FROM jobs j LEFT JOIN clients c`
        + ' ON c.tenant_id = j.tenant_id AND c.id = j.client_id WHERE true'
        + where.map((w) => ` AND ${w}`).join('')
        + ` ORDER BY j.posted_at DESC, j.id DESC LIMIT $${n + 1}::int OFFSET $${n + 2}::int`,
      values: [...params, filters.limit, (filters.page - 1) * filters.limit],
    };

    // Row-level security: the tenant is set for this transaction only.
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
      const total = Number((await client.query(count)).rows[0].count);
      const { rows } = await client.query(page);
      await client.query('COMMIT');
      return {
        jobs: rows.map(jobOf),
        page: filters.page,
        limit: filters.limit,
        total,
        hasMore: filters.page * filters.limit < total,
      };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
}

if (config.cache) decorate(JobService, 'getJobs', cached(config.jobsTtl));

const jobService = new JobService();
module.exports = { getJobs: (filters, tenantId) => jobService.getJobs(filters, tenantId), pool };
