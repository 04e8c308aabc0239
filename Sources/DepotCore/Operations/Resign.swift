import Foundation

extension Repository {
    /// Re-signs every distribution with `Valid-For` whose served `Release` has less than half
    /// of it left (or whose signing time is not recorded): the same indices, a new `Date` and
    /// `Valid-Until`. A distribution that does not change must not expire on its clients.
    /// Returns the distributions it re-signed.
    public func resignExpiring(now: Date = Date()) throws -> [String] {
        let signed = try read { db in try MetadataStore.signingTimes(db) }
        let seconds = Int64(now.timeIntervalSince1970)
        let due = try distributions().filter { distribution in
            guard let validFor = distribution.validFor else { return false }
            guard let time = signed[distribution.name], let time else { return true }
            return Double(time + Int64(validFor) - seconds) < Double(validFor) / 2
        }.map(\.name)
        if !due.isEmpty { try publish(due) }
        return due
    }

    /// How often a server looks for distributions to re-sign: often enough to catch the
    /// shortest `Valid-For` well before half of it is gone; nil without any.
    public var resignCheckInterval: Double? {
        (configuration.distributions + configuration.templates).compactMap(\.validFor).min().map { min(60, max(1, Double($0) / 4)) }
    }
}
