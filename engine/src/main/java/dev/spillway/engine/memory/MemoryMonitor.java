package dev.spillway.engine.memory;

import dev.spillway.api.MemoryWarning;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Keeps one {@link MemoryAccount} per budget (each device, and the host) for one model, and tells
 * its listeners when an account crosses its warning line. Every backend allocation of the model goes
 * through one of these accounts. Created by the model's loader and passed to its backends; there is
 * no global monitor.
 */
public final class MemoryMonitor {
    private static final System.Logger LOG = System.getLogger("dev.spillway");

    private final List<MemoryWarning.Listener> listeners = new CopyOnWriteArrayList<>();
    private final List<MemoryAccount> accounts = new CopyOnWriteArrayList<>();

    /** A new account named {@code name} (e.g. {@code host}, {@code cuda:0}) with {@code budgetBytes}. */
    public MemoryAccount open(String name, long budgetBytes) {
        Objects.requireNonNull(name, "name");
        if (accounts.stream().anyMatch(a -> a.name().equals(name))) {
            throw new IllegalArgumentException("a memory budget named " + name + " exists already");
        }
        MemoryAccount account = new MemoryAccount(name, budgetBytes, this);
        accounts.add(account);
        return account;
    }

    /**
     * Removes account {@code name}, which must hold nothing (a device that could not be opened after
     * its account was); absent names are ignored.
     *
     * @throws IllegalStateException when the account still holds bytes
     */
    public void close(String name) {
        for (MemoryAccount a : accounts) {
            if (a.name().equals(name)) {
                if (a.usedBytes() != 0) {
                    throw new IllegalStateException("memory budget " + name + " still holds " + a.usedBytes() + " bytes");
                }
                accounts.remove(a);
            }
        }
    }

    /** The accounts, in the order they were opened. */
    public List<MemoryAccount> accounts() {
        return List.copyOf(accounts);
    }

    public MemoryAccount account(String name) {
        return accounts.stream().filter(a -> a.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no memory budget named " + name));
    }

    public void addListener(MemoryWarning.Listener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    public void removeListener(MemoryWarning.Listener listener) {
        listeners.remove(listener);
    }

    /** Logs the warning (one line) and tells each listener; a failing listener does not stop the others. */
    void warn(MemoryWarning warning) {
        LOG.log(Level.WARNING, warning.describe());
        List<RuntimeException> failures = new ArrayList<>();
        for (MemoryWarning.Listener l : listeners) {
            try {
                l.onWarning(warning);
            } catch (RuntimeException e) {
                failures.add(e);
            }
        }
        for (RuntimeException e : failures) {
            LOG.log(Level.WARNING, "memory listener failed: " + e, e);
        }
    }
}
