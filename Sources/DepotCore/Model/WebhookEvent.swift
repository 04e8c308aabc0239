import Foundation

/// What one change tells a receiver: the body of each delivery of it, rendered once, when the
/// change is recorded, so every attempt sends the same bytes.
struct WebhookEvent: Sendable, Encodable {
    /// The history entry; nil for an approval, which history does not record.
    var id: Int64?
    var event: Webhook.Event
    var distribution: String
    /// The distribution a promotion came from (or an approval is for promoting from).
    var from: String?
    var user: String
    var note: String?
    var date: String
    var changes: [Change]

    struct Change: Sendable, Encodable {
        var package: String
        var architecture: String
        var before: String?
        var after: String?
        /// The phase after the change (nil: fully rolled out).
        var phase: Int?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(package, forKey: .package)
            try container.encode(architecture, forKey: .architecture)
            try container.encode(before, forKey: .before)
            try container.encode(after, forKey: .after)
            try container.encode(phase, forKey: .phase)
        }

        enum CodingKeys: String, CodingKey { case package, architecture, before, after, phase }
    }

    // Every key, null when absent: receivers read a fixed shape.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(event, forKey: .event)
        try container.encode(distribution, forKey: .distribution)
        try container.encode(from, forKey: .from)
        try container.encode(user, forKey: .user)
        try container.encode(note, forKey: .note)
        try container.encode(date, forKey: .date)
        try container.encode(changes, forKey: .changes)
    }

    enum CodingKeys: String, CodingKey { case id, event, distribution, from, user, note, date, changes }

    /// The body a receiver of `format` is sent.
    func body(_ format: Webhook.Format) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data? =
            switch format {
            case .json: try? encoder.encode(self)
            case .slack: try? encoder.encode(["text": slackText])
            }
        // Strings, numbers and nulls always encode.
        return String(decoding: data ?? Data(), as: UTF8.self)
    }

    /// One line for a chat channel: "snowbird 1.5.0 promoted to production by ops (CHG-2040)".
    /// Everything from the change is escaped as Slack's message format asks (`&`, `<`, `>`),
    /// so a package field or a note cannot mention a channel or forge a link.
    var slackText: String {
        let what = Self.phrase(versionsOf: changes, after: event != .remove)
        let by = "by \(user)"
        var text: String
        switch event {
        case .push: text = "\(what) pushed to \(distribution) \(by)"
        case .promote: text = "\(what) promoted to \(distribution) \(by)"
        case .remove: text = "\(what) removed from \(distribution) \(by)"
        case .approve: text = "\(what) approved for \(distribution) \(by)"
        case .rollback:
            let moves = Self.phrase(
                changes.map { "\($0.package) \($0.before ?? "(none)") → \($0.after ?? "(none)")" })
            text = "\(distribution) rolled back \(by)" + (changes.isEmpty ? "" : ": \(moves)")
        case .phase:
            let steps = Self.phrase(changes.map { "\($0.package) \($0.after ?? "") to \($0.phase ?? 100)%" })
            text = changes.isEmpty ? "phased rollout in \(distribution) stopped" : "\(steps) in \(distribution) \(by)"
        }
        if let line = note?.split(whereSeparator: \.isNewline).first {
            text += " (\(line.prefix(200)))"
        }
        return Self.slackEscaped(text)
    }

    /// "a 1.0, b 2.0": each package and version once, whatever its architectures.
    private static func phrase(versionsOf changes: [Change], after: Bool) -> String {
        phrase(changes.map { "\($0.package) \((after ? $0.after : $0.before) ?? "")" })
    }

    private static func phrase(_ items: [String]) -> String {
        var seen = Set<String>()
        let distinct = items.filter { seen.insert($0).inserted }
        let shown = distinct.prefix(5).joined(separator: ", ")
        return distinct.count > 5 ? "\(shown) and \(distinct.count - 5) more" : shown
    }

    static func slackEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

extension WebhookEvent.Change {
    init(_ change: DepotCore.Change) {
        self.init(
            package: change.package, architecture: change.architecture, before: change.before, after: change.after,
            phase: change.afterPhase)
    }
}
