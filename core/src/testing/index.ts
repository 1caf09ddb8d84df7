export { buildConfiguredSchemas, printConfiguredSchema } from '../graphql/print.ts';
export {
  type AuthorizationMatrix,
  type Caller,
  callers,
  checkAuthorizationMatrix,
  rootFieldsOf,
} from './authorization.ts';
export { createTestEnvironment, type TestEnvironment, type TestEnvironmentOptions } from './environment.ts';
export { GraphQLClient, type GraphQLResponse } from './graphql-client.ts';
export { ollamaForTests } from './ollama.ts';
export { type PersonalDataHit, sweepForPersonalData } from './personal-data.ts';
export { createTestDatabase, testServerUrl } from './test-database.ts';
export { waitFor } from './wait-for.ts';
