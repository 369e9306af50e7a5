import { readFileSync } from 'node:fs';
import { addClient } from './clients/clients.js';
import type { PorticoContext } from './context.js';
import { isAppError } from './errors.js';
import { createWorkspace, listWorkspaces, updateWorkspace, type Workspace } from './workspaces/workspaces.js';

export const demoClientEmail = 'client@example.com';

/** The demo's logo (a portico in teal, 160 px square) and accent, so `npm start` shows branding at once (issue 18 item 4). */
const demoLogoFile = new URL('../assets/demo-logo.png', import.meta.url);
export const demoAccentColor = '#0f766e';

/** On an empty database outside production: a demo workspace at http://localhost:PORT with one client. */
export async function seedDemoWorkspace(context: PorticoContext, port: number): Promise<Workspace | null> {
  if (context.config.production) return null;
  if ((await listWorkspaces(context.db)).length > 0) return null;
  let workspace: Workspace;
  try {
    workspace = await createWorkspace(context.db, context.clock, { name: 'Demo Portal', slug: 'demo', url: `http://localhost:${port}` });
  } catch (error) {
    // Two instances started at once on an empty database: the other one seeded it first.
    if (isAppError(error, 'WORKSPACE_SLUG_TAKEN') || isAppError(error, 'WORKSPACE_URL_TAKEN')) return null;
    throw error;
  }
  await addClient(context.db, context.clock, workspace, { email: demoClientEmail, name: 'Demo Client' });
  return updateWorkspace(
    context.db,
    workspace.slug,
    { accentColor: demoAccentColor, logo: { bytes: readFileSync(demoLogoFile), fileName: 'assets/demo-logo.png' } },
    context.clock.now(),
  );
}
