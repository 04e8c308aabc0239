import DebianFormat
import Foundation

extension MetadataStore {
    /// How long a file has soaked in a distribution: the seconds it was listed there at a
    /// phase above 0 %, and whether it still is (so the time goes on).
    struct Soak {
        var seconds: Double
        var counting: Bool
        static let none = Soak(seconds: 0, counting: false)
    }

    /// How long each file has soaked in `distribution` up to `now`, from the journal: each
    /// history entry's net effect opens or closes a span (a change that relists a file in the
    /// same entry at another phase above 0 % goes on with the span; halting at 0 % closes it).
    /// A file listed before the journal was kept counts from when it was pushed.
    static func soak(_ db: any StoreTransaction, distribution: String, files: [PackageFile], now: Date) throws
        -> [Int64: Soak]
    {
        let ids = try json(files.map(\.id))
        let rows = try db.rows(
            """
            SELECT j.file_id, j.history_id, j.listed, j.phase, h.date FROM listing_journal j
            JOIN history h ON h.id = j.history_id
            WHERE j.distribution = ? AND j.file_id IN \(db.dialect.jsonArrayIntegers) ORDER BY j.sequence
            """, [distribution, ids])
        var soaks: [Int64: Soak] = [:]
        for (fileID, fileRows) in Dictionary(grouping: rows, by: { $0[0] as Int64 }) {
            var total = 0.0
            var countingSince: Date?
            var listed = false
            var phase: Int?
            var position = fileRows.startIndex
            while position < fileRows.endIndex {
                let entry: Int64 = fileRows[position][1]
                let date = Repository.date(fileRows[position][4]) ?? now
                while position < fileRows.endIndex && fileRows[position][1] as Int64 == entry {
                    listed = fileRows[position][2]
                    phase = fileRows[position][3]
                    position += 1
                }
                let counting = listed && phase != 0
                if counting && countingSince == nil {
                    countingSince = date
                } else if !counting, let since = countingSince {
                    total += max(0, date.timeIntervalSince(since))
                    countingSince = nil
                }
            }
            if let since = countingSince { total += max(0, now.timeIntervalSince(since)) }
            soaks[fileID] = Soak(seconds: total, counting: countingSince != nil)
        }
        let unjournaled = files.filter { soaks[$0.id] == nil }.map(\.id)
        if !unjournaled.isEmpty {
            let list = try json(unjournaled)
            for row in try db.rows(
                """
                SELECT f.id, f.added_at, l.phase FROM package_files f JOIN listings l ON l.file_id = f.id
                WHERE l.distribution = ? AND f.id IN \(db.dialect.jsonArrayIntegers)
                """, [distribution, list])
            {
                let phase: Int? = row[2]
                guard phase != 0, let added = Repository.date(row[1]) else { continue }
                soaks[row[0]] = Soak(seconds: max(0, now.timeIntervalSince(added)), counting: true)
            }
        }
        return soaks
    }

    /// The files the change under way (its journal rows not yet given to a history entry)
    /// listed in `distribution`.
    static func filesListedByThisChange(_ db: any StoreTransaction, in distribution: String) throws -> [PackageFile] {
        try db.rows(
            """
            SELECT \(fileColumns) FROM package_files f WHERE f.id IN (
                SELECT file_id FROM listing_journal WHERE history_id IS NULL AND listed = 1 AND distribution = ?)
            ORDER BY f.name, f.architecture
            """, [distribution]
        ).map { file($0) }
    }

    /// The user of the push that first listed each file.
    static func pushers(_ db: any StoreTransaction, fileIDs: [Int64]) throws -> [Int64: String] {
        let ids = try json(fileIDs)
        var pushers: [Int64: String] = [:]
        for row in try db.rows(
            """
            SELECT j.file_id, h."user" FROM listing_journal j JOIN history h ON h.id = j.history_id
            WHERE j.file_id IN \(db.dialect.jsonArrayIntegers) AND j.listed = 1 AND h.operation = 'push'
            ORDER BY j.sequence DESC
            """, [ids])
        {
            pushers[row[0]] = row[1]
        }
        return pushers
    }

    /// Who approved each file for `distribution`.
    static func approvers(_ db: any StoreTransaction, distribution: String, fileIDs: [Int64]) throws
        -> [Int64: [String]]
    {
        let ids = try json(fileIDs)
        return Dictionary(
            grouping: try db.rows(
                """
                SELECT file_id, "user" FROM approvals
                WHERE distribution = ? AND file_id IN \(db.dialect.jsonArrayIntegers)
                """, [distribution, ids]),
            by: { $0[0] as Int64 }
        ).mapValues { $0.map { $0[1] as String } }
    }
}
