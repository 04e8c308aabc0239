import DepotTestSupport
import Foundation
import GRDB
import Testing

@testable import DepotCore

/// A store made by an earlier Depot, brought up to date: its counters go on past every id any
/// table or the journal still names, so an id gc freed is never given again.
@Suite struct StoreMigrationTests {
    @Test func aSQLiteStoreOfAnEarlierDepotGivesNoIdTwice() throws {
        let folder = try TestSupport.makeTemporaryDirectory("migration")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("depot.sqlite").path
        // As release control (v9) left it: files 1 and 2; file 3 was listed, then collected
        // by gc, which its journal rows and history entry 2 still name.
        let earlier = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(earlier, upTo: "v9: release control")
        try earlier.write { db in
            for id in 1...3 {
                try db.execute(
                    sql: """
                        INSERT INTO package_files (id, name, version, architecture, source, pool_path, size, md5, sha1,
                            sha256, sha512, control, stanza, added_at)
                        VALUES (?, 'tern', ?, 'amd64', 'tern', ?, 1, '', '', '', '', '', '', '2026-12-01T00:00:00Z')
                        """, arguments: [id, "\(id).0-1", "pool/main/t/tern/tern_\(id).0-1_amd64.deb"])
            }
            try db.execute(sql: "INSERT INTO listings (distribution, component, file_id) VALUES ('staging', 'main', 3)")
            try db.execute(sql: "DELETE FROM listings WHERE file_id = 3")
            for id in 1...2 {
                try db.execute(
                    sql: """
                        INSERT INTO history (id, date, operation, distribution, user, command, changes)
                        VALUES (?, '2026-12-01T00:00:00Z', 'push', 'staging', 'ci', 'depot push', '[]')
                        """, arguments: [id])
            }
            try db.execute(sql: "UPDATE listing_journal SET history_id = 2")
            try db.execute(sql: "DELETE FROM package_files WHERE id = 3")
        }
        try earlier.close()

        let store = try SQLiteStore(path: path, busyTimeout: 5)
        let (file, entry, kept) = try store.write(commit: true) { db -> (Int64?, Int64?, [Int64]) in
            let file: Int64? = try db.value(
                """
                INSERT INTO package_files (name, version, architecture, source, pool_path, size, md5, sha1, sha256,
                    sha512, control, stanza, added_at)
                VALUES ('gull', '1.0-1', 'amd64', 'gull', 'pool/main/g/gull/gull_1.0-1_amd64.deb', 1, '', '', '', '',
                    '', '', '2026-12-07T00:00:00Z') RETURNING id
                """)
            let entry: Int64? = try db.value(
                """
                INSERT INTO history (date, operation, distribution, "user", command, changes)
                VALUES ('2026-12-07T00:00:00Z', 'push', 'development', 'ci', 'depot push', '[]') RETURNING id
                """)
            return (file, entry, try db.rows("SELECT id FROM package_files ORDER BY id").map { $0[0] })
        }
        #expect(file == 4, "the new file took id \(file ?? 0): the collected file 3 is still named by the journal")
        #expect(entry == 3)
        #expect(kept == [1, 2, 4], "the migration lost or renumbered files: \(kept)")
    }
}
