import Foundation

/// What a token may do: `ACTION:DISTRIBUTION`, `*` for any distribution.
public struct Scope: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Action: String, Sendable, Codable, CaseIterable {
        case push, promote, remove, rollback, read, approve, override
    }

    public var action: Action
    /// A distribution name, a template's (`pr-*`), or `*`.
    public var distribution: String

    public init(_ action: Action, _ distribution: String) {
        self.action = action
        self.distribution = distribution
    }

    /// Parses `push:development`, `promote:*`, `read:*`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, let action = Action(rawValue: parts[0]), !parts[1].isEmpty else {
            throw DepotError.invalidArgument(
                "invalid scope '\(text)': expected ACTION:DISTRIBUTION with ACTION one of "
                    + Action.allCases.map(\.rawValue).joined(separator: ", ") + " (DISTRIBUTION may be *)")
        }
        self.init(action, parts[1])
    }

    public var description: String { "\(action.rawValue):\(distribution)" }

    /// Written as its text, `push:development`, in JSON and in the store.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Whether it lets its holder do `action` on `distribution`: its own distribution, any
    /// (`*`), or any a template makes (`pr-*`).
    public func allows(_ action: Action, on distribution: String) -> Bool {
        guard self.action == action else { return false }
        if self.distribution == "*" || self.distribution == distribution { return true }
        return self.distribution.hasSuffix("*") && Configuration.template(self.distribution, matches: distribution)
    }
}
