/// A promotion as the command line, the API and the dashboard ask for it, checked in one
/// place: each front only reads its input into one (depot(1), `promote`).
public struct PromotionRequest: Sendable, Hashable {
    /// `NAME` or `NAME=VERSION` of each package to promote; none with `all`.
    public var packages: [String]
    /// Every package that is new or newer in `from`.
    public var all: Bool
    public var from: String
    /// The target; nil for `from`'s `Promotes-To`.
    public var to: String?
    /// Report what would change, and the gates, changing nothing.
    public var dryRun: Bool
    /// Accept versions lower than the target lists, unlisting the newer ones.
    public var allowDowngrade: Bool
    /// Promote along, from `from`, the packages the promoted ones depend on.
    public var withDependencies: Bool
    /// Refuse a promotion that leaves a `Depends` or `Pre-Depends` unmet in the target.
    public var checkDependencies: Bool
    /// List the promoted versions phased to this percentage in the target.
    public var phase: Int?
    /// Promote past closed gates; history records it.
    public var overrideGates: Bool

    public init(
        packages: [String] = [], all: Bool = false, from: String, to: String? = nil, dryRun: Bool = false,
        allowDowngrade: Bool = false, withDependencies: Bool = false, checkDependencies: Bool = true,
        phase: Int? = nil, overrideGates: Bool = false
    ) {
        self.packages = packages
        self.all = all
        self.from = from
        self.to = to
        self.dryRun = dryRun
        self.allowDowngrade = allowDowngrade
        self.withDependencies = withDependencies
        self.checkDependencies = checkDependencies
        self.phase = phase
        self.overrideGates = overrideGates
    }

    /// The packages asked for, once the request is one that can be made.
    public func selectors() throws -> [PackageSelector] {
        guard all != !packages.isEmpty else {
            throw DepotError.invalidArgument(
                all
                    ? "a promotion of all packages names none: name the packages, or promote all"
                    : "name the packages to promote, or promote all")
        }
        if withDependencies && !checkDependencies {
            throw DepotError.invalidArgument(
                "promoting the dependencies along and ignoring them contradict each other: ask for one")
        }
        if let phase { try Repository.checkPercentage(phase) }
        return try packages.map { try PackageSelector(parsing: $0) }
    }
}
