/// The version of Cutover, printed by `cutover --version` and reported by `/healthz`.
public enum CutoverVersion {
    public static let current = "0.1.0"
}
