//! Processes: the CLI's signal handling (SIGINT/SIGTERM are recorded and forwarded, never
//! fatal) and the service child processes.
//!
//! A service process runs in its own process group, so a `<ctrl+c>` in the terminal reaches
//! only the CLI, which forwards it: the service sees each signal once. On Linux a service also
//! gets SIGTERM when the CLI dies (`PR_SET_PDEATHSIG`), so no service outlives a killed CLI.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// The last SIGINT/SIGTERM received and not yet taken (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
}

/// Routes SIGINT and SIGTERM to [`take_signal`] instead of ending the CLI.
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed `sigaction` is a valid empty action; the handler only stores to an
        // atomic, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// The signal received since the last call, if any.
pub fn take_signal() -> Option<i32> {
    match SIGNAL.swap(0, Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Sends `sig` to process `pid` (errors, e.g. an already reaped process, are ignored).
pub fn send_signal(pid: u32, sig: i32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// The exit code of a finished process (128 + signal number when a signal ended it).
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// Makes a child get SIGTERM when the CLI dies (Linux; elsewhere a no-op).
pub fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: getpid() has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the closure only makes async-signal-safe system calls (prctl, getppid) and
        // allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // the CLI died between fork and prctl
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// A running service process.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    exit: Option<i32>,
}

impl ServiceProcess {
    /// Starts `binary` with `args` and extra environment variables; stdout and stderr are the
    /// CLI's.
    pub fn spawn<I, K, V>(binary: &Path, args: &[String], env: I) -> std::io::Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(binary);
        cmd.args(args)
            .envs(env)
            .stdin(Stdio::null())
            .process_group(0);
        die_with_parent(&mut cmd);
        Ok(Self {
            child: cmd.spawn()?,
            exit: None,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `sig` unless the process has already been reaped.
    pub fn signal(&mut self, sig: i32) {
        if self.try_exit().is_none() {
            send_signal(self.pid(), sig);
        }
    }

    /// The exit code, once the process has exited (reaps it).
    pub fn try_exit(&mut self) -> Option<i32> {
        if self.exit.is_none() {
            match self.child.try_wait() {
                Ok(Some(status)) => self.exit = Some(exit_code(status)),
                Ok(None) => {}
                Err(_) => self.exit = Some(1),
            }
        }
        self.exit
    }

    /// Waits for the process to exit; `on_tick` runs every 50 ms meanwhile (to forward
    /// signals).
    pub fn wait(&mut self, mut on_tick: impl FnMut(&mut Self)) -> i32 {
        loop {
            if let Some(code) = self.try_exit() {
                return code;
            }
            on_tick(self);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServiceProcess {
    /// A service is never left running behind the CLI's back: SIGTERM and wait.
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            send_signal(self.pid(), libc::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_signals() {
        let sh = Path::new("/bin/sh");
        let mut p =
            ServiceProcess::spawn(sh, &["-c".into(), "exit 3".into()], [("X", "1")]).unwrap();
        assert_eq!(p.wait(|_| {}), 3);
        let mut p = ServiceProcess::spawn(
            sh,
            &[
                "-c".into(),
                "trap 'exit 0' TERM; while :; do sleep 0.05; done".into(),
            ],
            std::iter::empty::<(&str, &str)>(),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(p.try_exit(), None);
        p.signal(libc::SIGTERM);
        assert_eq!(p.wait(|_| {}), 0);
        let mut p = ServiceProcess::spawn(
            Path::new("/bin/sleep"),
            &["30".into()],
            std::iter::empty::<(&str, &str)>(),
        )
        .unwrap();
        p.signal(libc::SIGKILL);
        assert_eq!(p.wait(|_| {}), 128 + libc::SIGKILL);
        // signalling a reaped process is a no-op
        p.signal(libc::SIGTERM);
    }

    #[test]
    fn services_run_in_their_own_process_group() {
        let mut p = ServiceProcess::spawn(
            Path::new("/bin/sleep"),
            &["30".into()],
            std::iter::empty::<(&str, &str)>(),
        )
        .unwrap();
        // SAFETY: getpgid(2) has no memory-safety preconditions.
        let group = unsafe { libc::getpgid(p.pid() as libc::pid_t) };
        assert_eq!(group, p.pid() as libc::pid_t);
        p.signal(libc::SIGTERM);
        assert_eq!(p.wait(|_| {}), 128 + libc::SIGTERM);
    }
}
