import { afterAll, beforeAll } from 'vitest';
import { openDatabase, type Connection, type Database, type OpenDatabaseOptions } from '../../sandbox/index.js';

/**
 * A connection to an in-memory DuckDB for one test file: opened before its tests, closed after.
 * Call at the top level of the file; read `.connection` inside tests.
 */
export function useMemoryConnection(options: OpenDatabaseOptions = {}): { readonly connection: Connection } {
  let db: Database | undefined;
  let connection: Connection | undefined;
  beforeAll(async () => {
    db = await openDatabase(':memory:', options);
    connection = await db.connect();
  });
  afterAll(() => {
    connection?.close();
    db?.close();
  });
  return {
    get connection() {
      if (!connection) throw new Error('useMemoryConnection: the connection is open only while tests run');
      return connection;
    },
  };
}
