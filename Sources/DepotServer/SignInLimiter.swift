import Foundation
import Synchronization

/// Counts failed sign-ins per client address, so that nobody can try tokens at the speed of
/// the network: at most `limit` failures per address in any `window`, after which that
/// address is refused until its oldest failure leaves the window. Kept in memory: each
/// node limits what it is asked, and a restart forgets.
final class SignInLimiter: Sendable {
    let limit: Int
    let window: Double
    private let failures = Mutex<[String: [Double]]>([:])

    init(limit: Int = 5, window: Double = 60) {
        self.limit = limit
        self.window = window
    }

    /// Seconds until `address` may try again, or nil when it may now.
    func wait(for address: String, now: Double = Date().timeIntervalSince1970) -> Int? {
        failures.withLock { failures in
            let recent = (failures[address] ?? []).filter { $0 > now - window }
            failures[address] = recent.isEmpty ? nil : recent
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return max(1, Int((oldest + window - now).rounded(.up)))
        }
    }

    func recordFailure(of address: String, now: Double = Date().timeIntervalSince1970) {
        failures.withLock { failures in
            // Addresses that stopped trying are forgotten, so the table stays small.
            if failures.count > 10_000 { failures = failures.filter { $0.value.contains { $0 > now - window } } }
            failures[address, default: []].append(now)
        }
    }
}
