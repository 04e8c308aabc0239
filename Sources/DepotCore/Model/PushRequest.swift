/// Where and how a push lists its packages, as the command line and the API ask for it
/// (depot(1), `push`); the files come from the front: paths on this machine or an upload.
public struct PushRequest: Sendable, Hashable {
    public var distribution: String
    /// The component to list the packages in; nil for the first of `depot.conf`.
    public var component: String?
    /// Accept a version lower than the one listed, unlisting the newer ones.
    public var allowDowngrade: Bool
    /// Push into a distribution with promotion gates; history records it.
    public var overrideGates: Bool

    public init(distribution: String, component: String? = nil, allowDowngrade: Bool = false, overrideGates: Bool = false) {
        self.distribution = distribution
        self.component = component
        self.allowDowngrade = allowDowngrade
        self.overrideGates = overrideGates
    }
}
