import Foundation

/// A token as the store keeps it: its name and scopes, never the token itself.
public struct TokenRecord: Sendable, Hashable, Codable {
    public var name: String
    public var scopes: [Scope]
    public var created: String

    /// Whether the token may do `action` on `distribution` (`*`: on every distribution).
    public func allows(_ action: Scope.Action, on distribution: String) -> Bool {
        scopes.contains { $0.allows(action, on: distribution) }
    }
}
