// server.js: the design's WebSocketServer (socket.io, rooms tenant:/jobs:/proposals:), fed by the C stack's Redis channel upw:events.
'use strict';
const { Server: SocketIOServer } = require('socket.io');
const Redis = require('ioredis');
const config = require('../../config');
const { verifyToken } = require('../../middleware/auth');

class WebSocketServer {
  constructor(server) {
    this.io = new SocketIOServer(server, {
      cors: {
        origin: config.appUrl,
        methods: ['GET', 'POST'],
      },
    });

    this.setupAuthentication();
    this.setupEventHandlers();
    this.subscribeToEvents();
  }

  setupAuthentication() {
    this.io.use(async (socket, next) => {
      try {
        const token = socket.handshake.auth.token;
        const { userId, orgId } = verifyToken(token);

        if (!userId) {
          return next(new Error('Authentication failed'));
        }

        socket.userId = userId;
        socket.tenantId = orgId;

        // Join tenant room for multi-tenancy
        if (orgId) {
          socket.join(`tenant:${orgId}`);
        }

        next();
      } catch (error) {
        next(new Error('Authentication failed'));
      }
    });
  }

  setupEventHandlers() {
    this.io.on('connection', (socket) => {
      console.log(`User connected: ${socket.userId}`);

      // Subscribe to job updates (the ack, when asked for, is the C broadcaster's answer; the design sends none)
      socket.on('subscribe:jobs', (ack) => {
        socket.join(`jobs:${socket.tenantId}`);
        if (typeof ack === 'function') ack({ ok: true, room: `jobs:${socket.tenantId}` });
      });

      // Subscribe to proposal updates
      socket.on('subscribe:proposals', (ack) => {
        socket.join(`proposals:${socket.userId}`);
        if (typeof ack === 'function') ack({ ok: true, room: `proposals:${socket.userId}` });
      });

      // Handle disconnection
      socket.on('disconnect', () => {
        console.log(`User disconnected: ${socket.userId}`);
      });
    });
  }

  // Broadcast new job to relevant users
  broadcastNewJob(job, tenantId) {
    this.io.to(`jobs:${tenantId}`).emit('job:new', job);
  }

  // Notify user of proposal status change
  notifyProposalUpdate(proposal, userId) {
    this.io.to(`proposals:${userId}`).emit('proposal:updated', proposal);
  }

  /*
   * What the design leaves to "Background Jobs": every process subscribes
   * to the channel the C stack publishes on (common/events.c), so one
   * publish reaches both broadcasters.  The envelope is
   * {id, type, tenant, user, time, data}.
   */
  subscribeToEvents() {
    this.subscriber = new Redis(config.redisUrl, config.redisOptions);
    this.subscriber.subscribe(config.eventsChannel);
    this.subscriber.on('message', (channel, message) => {
      let e;
      try {
        e = JSON.parse(message);
      } catch {
        return;
      }
      if (e.type === 'job:new') this.broadcastNewJob(e.data, e.tenant);
      else if (e.type === 'proposal:updated' && e.user) this.notifyProposalUpdate(e.data, e.user);
      else if (typeof e.type === 'string' && e.type.startsWith('job:')) this.io.to(`jobs:${e.tenant}`).emit(e.type, e.data);
      else if (e.user && typeof e.type === 'string' && e.type.startsWith('proposal:')) this.io.to(`proposals:${e.user}`).emit(e.type, e.data);
      else this.io.to(`tenant:${e.tenant}`).emit(e.type, e.data);
    });
  }
}

module.exports = { WebSocketServer };
