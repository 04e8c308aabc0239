/// A change of a package's rollout as the command line, the API and the dashboard ask for
/// it, checked in one place (depot(1), `phase`): a percentage now, or a ramp of rising
/// percentages taken one every `every`.
public struct PhaseRequest: Sendable, Hashable {
    public var distribution: String
    public var package: String
    /// 0 (halted) to 100 (fully rolled out); nil with a ramp.
    public var percentage: Int?
    /// The percentages of a ramp, rising; nil with a percentage.
    public var ramp: [Int]?
    /// The time between a ramp's steps, as `depot.conf` writes durations: 30m, 6h, 1d.
    public var every: String?

    /// What the request asks for, once checked.
    public enum Plan: Sendable, Hashable {
        case percentage(Int)
        /// The first step is taken now, the next ones `every` seconds apart.
        case ramp([Int], every: Int)
    }

    public init(distribution: String, package: String, percentage: Int? = nil, ramp: [Int]? = nil, every: String? = nil) {
        self.distribution = distribution
        self.package = package
        self.percentage = percentage
        self.ramp = ramp
        self.every = every
    }

    public func plan() throws -> Plan {
        switch (percentage, ramp, every) {
        case (let percentage?, nil, nil):
            try Repository.checkPercentage(percentage)
            return .percentage(percentage)
        case (nil, let steps?, let every?):
            guard !steps.isEmpty else { throw DepotError.invalidArgument("a ramp needs at least one percentage") }
            for step in steps { try Repository.checkPercentage(step) }
            guard zip(steps, steps.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw DepotError.invalidArgument(
                    "the steps of a ramp must rise, each above the one before (such as 10,25,50,100), not "
                        + steps.map(String.init).joined(separator: ","))
            }
            guard let seconds = Configuration.duration(every), seconds > 0 else {
                throw DepotError.invalidArgument(
                    "the time between a ramp's steps is a duration such as 30m, 6h or 1d, "
                        + "\(Configuration.durationLimit), not '\(every.prefix(64))'")
            }
            return .ramp(steps, every: seconds)
        case (nil, _?, nil):
            throw DepotError.invalidArgument("a ramp needs the time between its steps, such as 6h")
        case (nil, nil, _?):
            throw DepotError.invalidArgument("the time between steps goes with a ramp of percentages")
        case (nil, nil, nil):
            throw DepotError.invalidArgument(
                "give the percentage (0-100), or a ramp of percentages (such as 10,25,50,100) and the time between its steps")
        case (_?, _, _):
            throw DepotError.invalidArgument("give a percentage or a ramp, not both")
        }
    }
}
