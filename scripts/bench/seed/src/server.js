// server.js: the seed peer's entry: a cluster primary forking one worker per core, each an Express app (auth, rate limit, GET /api/jobs) with the socket.io server on the same port.
'use strict';
const cluster = require('cluster');
const http = require('http');
const config = require('./config');

if (cluster.isPrimary) {
  for (let i = 0; i < config.workers; i++) cluster.fork();
  let stopping = false;
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
      return;
    }
    console.error(`seed: worker ${worker.process.pid} died (${signal || code}); starting another`);
    cluster.fork();
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(`seed: primary ${process.pid}, ${config.workers} workers on ${config.host}:${config.port}`);
} else {
  const express = require('express');
  const { authMiddleware } = require('./middleware/auth');
  const { rateLimitMiddleware } = require('./middleware/rate-limit');
  const jobs = require('./routes/jobs');
  const { WebSocketServer } = require('./lib/websocket/server');

  const app = express();
  // Next's route handlers send no ETag and no X-Powered-By; Express would.
  app.set('etag', false);
  app.disable('x-powered-by');
  // The design's middleware order: authentication, then the rate limit, then the route.
  app.use('/api', authMiddleware, rateLimitMiddleware('default'));
  app.get('/api/jobs', jobs.GET);

  const server = http.createServer(app);
  new WebSocketServer(server);
  server.listen(config.port, config.host);
  process.on('SIGTERM', () => process.exit(0));
}
