import Foundation

/// `phase_ramps`: the steps of phased rollouts still to come.
extension MetadataStore {
    static func ramps(_ db: any StoreTransaction, distribution: String? = nil) throws -> [Repository.Ramp] {
        var sql = "SELECT distribution, package, version, steps, every_seconds, next_at, \"user\" FROM phase_ramps"
        var arguments: [any StoreValueConvertible] = []
        if let distribution {
            sql += " WHERE distribution = ?"
            arguments.append(distribution)
        }
        return try db.rows(sql + " ORDER BY distribution, package", arguments).map { row in
            Repository.Ramp(
                distribution: row["distribution"], package: row["package"], version: row["version"],
                steps: (try? JSONDecoder().decode([Int].self, from: Data((row["steps"] as String).utf8))) ?? [],
                every: row["every_seconds"],
                next: Repository.timestamp(Date(timeIntervalSince1970: Double(row["next_at"] as Int64))),
                user: row["user"])
        }
    }

    static func saveRamp(_ db: any StoreTransaction, _ ramp: Repository.Ramp) throws {
        let steps = try MetadataStore.json(ramp.steps)
        let next = Int64((Repository.date(ramp.next) ?? Date()).timeIntervalSince1970)
        try db.execute(
            """
            INSERT INTO phase_ramps (distribution, package, version, steps, every_seconds, next_at, "user")
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [ramp.distribution, ramp.package, ramp.version, steps, ramp.every, next, ramp.user])
    }

    static func stopRamps(_ db: any StoreTransaction, distribution: String, packages: Set<String>) throws {
        guard !packages.isEmpty else { return }
        try db.execute(
            "DELETE FROM phase_ramps WHERE distribution = ? AND package IN \(db.dialect.jsonArrayValues)",
            [distribution, try json(packages.sorted())])
    }
}
