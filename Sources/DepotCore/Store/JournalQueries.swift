import DebianFormat
import Foundation

/// One listing row a history entry added or removed (the store's `listing_journal`).
struct JournalRow {
    var historyID: Int64
    var distribution: String
    var component: String
    var fileID: Int64
    var package: String
    var version: String
    var architecture: String
    /// True when the change listed the file, false when it unlisted it.
    var listed: Bool
    /// The phase the listed or unlisted row had.
    var phase: Int?

    static let columns = "history_id, distribution, component, file_id, package, version, architecture, listed, phase"

    init(_ row: StoreRow) {
        historyID = row["history_id"]
        distribution = row["distribution"]
        component = row["component"]
        fileID = row["file_id"]
        package = row["package"]
        version = row["version"]
        architecture = row["architecture"]
        listed = row["listed"]
        phase = row["phase"]
    }

    /// What the row listed: restored by undoing an unlisting.
    var state: ListingState { ListingState(component: component, phase: phase) }
}

/// `listing_journal`: every listing row a change added or removed, which its history entry
/// claims; written by the stores' triggers, read by rollback, gates and `show`.
extension MetadataStore {
    /// The newest history entry that changed `package` in `distribution`.
    static func latestChange(_ db: any StoreTransaction, of package: String, in distribution: String) throws -> Int64? {
        try db.value(
            "SELECT MAX(history_id) FROM listing_journal WHERE distribution = ? AND package = ?", [distribution, package])
    }

    /// The rows history entry `historyID` wrote for `package` in `distribution`, newest first.
    static func journal(
        _ db: any StoreTransaction, entry historyID: Int64, distribution: String, package: String
    ) throws -> [JournalRow] {
        try db.rows(
            """
            SELECT \(JournalRow.columns) FROM listing_journal
            WHERE history_id = ? AND distribution = ? AND package = ? ORDER BY sequence DESC
            """,
            [historyID, distribution, package]
        ).map(JournalRow.init)
    }

    /// The rows of every history entry of `distribution` after `historyID`, newest first.
    static func journal(_ db: any StoreTransaction, after historyID: Int64, distribution: String) throws -> [JournalRow] {
        try db.rows(
            """
            SELECT \(JournalRow.columns) FROM listing_journal
            WHERE distribution = ? AND history_id > ? ORDER BY sequence DESC
            """,
            [distribution, historyID]
        ).map(JournalRow.init)
    }

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
        for (fileID, fileRows) in Dictionary(grouping: rows, by: { $0["file_id"] as Int64 }) {
            var total = 0.0
            var countingSince: Date?
            var listed = false
            var phase: Int?
            var position = fileRows.startIndex
            while position < fileRows.endIndex {
                let entry: Int64 = fileRows[position]["history_id"]
                let date = Repository.date(fileRows[position]["date"]) ?? now
                while position < fileRows.endIndex && fileRows[position]["history_id"] as Int64 == entry {
                    listed = fileRows[position]["listed"]
                    phase = fileRows[position]["phase"]
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
                let phase: Int? = row["phase"]
                guard phase != 0, let added = Repository.date(row["added_at"]) else { continue }
                soaks[row["id"]] = Soak(seconds: max(0, now.timeIntervalSince(added)), counting: true)
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
            pushers[row["file_id"]] = row["user"]
        }
        return pushers
    }

    /// Every journal row of a package's files, newest first, with its history entry.
    static func events(_ db: any StoreTransaction, package: String) throws -> [Repository.PackageReport.Event] {
        try db.rows(
            """
            SELECT h.id, h.date, h.operation, j.distribution, j.version, j.architecture, j.listed, j.phase, h."user",
                h.note
            FROM listing_journal j JOIN history h ON h.id = j.history_id WHERE j.package = ? ORDER BY j.sequence DESC
            """, [package]
        ).map {
            Repository.PackageReport.Event(
                history: $0["id"], date: $0["date"], operation: $0["operation"], distribution: $0["distribution"],
                version: $0["version"], architecture: $0["architecture"], listed: $0["listed"], phase: $0["phase"],
                user: $0["user"], note: $0["note"])
        }
    }
}
