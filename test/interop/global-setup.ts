/** Vitest global setup of the interoperability suite: one DOT server for all its files. */
import type { TestProject } from 'vitest/node';
import { DotServer, type DotServerInfo } from './dot-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dot: DotServerInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await DotServer.start();
  const { dot, django, oauthlib } = server.info.versions;
  console.log(`Django OAuth Toolkit ${dot} (Django ${django}, oauthlib ${oauthlib}) at ${server.info.url}`);
  project.provide('dot', server.info);
  return () => server.stop();
}
