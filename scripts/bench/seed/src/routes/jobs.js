// jobs.js: the design's src/app/api/jobs/route.ts GET handler, as an Express handler.
'use strict';
const { getJobs } = require('../lib/services/job-service');

async function GET(req, res) {
  try {
    const searchParams = new URL(req.url, 'http://localhost').searchParams;
    const filters = {
      skills: searchParams.get('skills')?.split(',') || [],
      minBudget: parseInt(searchParams.get('minBudget') || '0'),
      maxBudget: parseInt(searchParams.get('maxBudget') || '999999'),
      location: searchParams.get('location'),
      clientScore: parseInt(searchParams.get('clientScore') || '0'),
      page: parseInt(searchParams.get('page') || '1'),
      limit: parseInt(searchParams.get('limit') || '20'),
    };

    // The tenant the auth middleware set for RLS (a personal account has none: its own).
    const tenantId = req.headers['x-tenant-id'] || `personal:${req.auth.userId}`;
    const result = await getJobs(filters, tenantId);

    return res.json({
      success: true,
      data: result.jobs,
      pagination: {
        page: result.page,
        limit: result.limit,
        total: result.total,
        hasMore: result.hasMore,
      },
    });
  } catch (error) {
    return res.status(500).json({ error: 'Failed to fetch jobs' });
  }
}

module.exports = { GET };
