import Foundation

/// A browser signed in to the dashboard with an API token: it acts with that token's scopes,
/// and the token's name is the user in history.
public struct DashboardSession: Sendable {
    public var token: TokenRecord
    /// What every form of this session carries, so that a page of another origin cannot post
    /// one.
    public var csrf: String
}
