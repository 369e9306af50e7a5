import type { Server } from 'node:http';

/**
 * Counts the requests the server is answering at this moment, from arrival until the response is
 * finished or the connection is gone. The outbox worker yields to them (main.ts).
 */
export function countRequestsInFlight(server: Server): () => number {
  let inFlight = 0;
  server.on('request', (_request, response) => {
    inFlight += 1;
    response.once('close', () => {
      inFlight -= 1;
    });
  });
  return () => inFlight;
}
