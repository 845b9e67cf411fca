package dev.weir.flink;

/** A failure in Weir: bad options, a denied capability, a component's error or trap. */
public class WeirException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public WeirException(String message) {
        super(message);
    }
}
