export { printConfiguredSchema } from '../graphql/print.ts';
export { createTestEnvironment, type TestEnvironment, type TestEnvironmentOptions } from './environment.ts';
export { GraphQLClient, type GraphQLResponse } from './graphql-client.ts';
export { type PersonalDataHit, sweepForPersonalData } from './personal-data.ts';
export { createTestDatabase, testServerUrl } from './test-database.ts';
export { waitFor } from './wait-for.ts';
