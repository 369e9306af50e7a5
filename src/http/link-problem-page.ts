import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SignedInPanel } from './door-pages.js';
import { renderPage } from './render.js';

/** Why an emailed link cannot be used, in words for the person holding it: message keys, shown in the request's language. */
export interface LinkProblem {
  status: number;
  heading: string;
  explanation: string;
}

/**
 * The page for a link that cannot be used: what happened, and a button to ask for a fresh one; for a
 * browser that is signed in, "You are signed in as … — Continue" instead.
 */
export function renderLinkProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  problem: LinkProblem,
  freshLink: { href: string; /** A message key. */ label: string },
  signedIn: SignedInPanel | null = null,
) {
  return renderPage(
    request,
    reply,
    'message',
    { titleKey: problem.heading, heading: problem.heading, message: problem.explanation, actionHref: signedIn ? null : freshLink.href, actionLabel: freshLink.label, signedIn },
    problem.status,
  );
}
