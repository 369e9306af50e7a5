import type { FastifyReply, FastifyRequest } from 'fastify';
import { renderPage } from './render.js';

/** Why an emailed link cannot be used, in words for the person holding it. */
export interface LinkProblem {
  status: number;
  heading: string;
  explanation: string;
}

/** The page for a link that cannot be used: what happened, and a button to ask for a fresh one. */
export function renderLinkProblem(request: FastifyRequest, reply: FastifyReply, problem: LinkProblem, freshLink: { href: string; label: string }) {
  return renderPage(
    request,
    reply,
    'message',
    { title: problem.heading, heading: problem.heading, message: problem.explanation, actionHref: freshLink.href, actionLabel: freshLink.label },
    problem.status,
  );
}
