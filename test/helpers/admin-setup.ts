// The admin UI's first-run setup as a browser test goes through it when setup is not what it checks:
// open the printed setup link, set the admin password, skip the host name step, land on the dashboard.
import type { Page } from 'playwright-core';

export async function completeFirstRunSetup(page: Page, setupLink: string, adminPassword: string): Promise<void> {
  await page.goto(setupLink);
  await page.getByLabel('Admin password').fill(adminPassword);
  await page.getByLabel('Repeat the password').fill(adminPassword);
  await page.getByRole('button', { name: 'Set password and continue' }).click();
  // the host name step has its own test (hostname-ui.test.ts)
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
}
