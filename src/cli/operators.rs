//! `botwright operators add|list|remove` (api.md, Operators and the console):
//! the people who may use the API and the console, in the database `run` uses.
//! `add` prints the new token alone on stdout, once; only its hash is stored.

use crate::api::access::{Role, new_token, token_hash};
use crate::store::operators::AddOperator;
use crate::store::sql::SqlStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Viewer,
    Operator,
    Admin,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Operator => Role::Operator,
            RoleArg::Admin => Role::Admin,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Add an operator and print their token (once; only its hash is kept).
    Add {
        /// Letters, digits, `_`, `-` and `.` (`api` is reserved for BOTWRIGHT_API_TOKEN).
        name: String,
        /// viewer reads; operator also acts on users, requests and messages; admin also on operators.
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long, default_value = "sqlite://botwright.db")]
        db: String,
    },
    /// List the operators: name, role, when added.
    List {
        #[arg(long, default_value = "sqlite://botwright.db")]
        db: String,
    },
    /// Remove an operator; their token stops working at once.
    Remove {
        name: String,
        #[arg(long, default_value = "sqlite://botwright.db")]
        db: String,
    },
}

pub fn run(args: Args) -> u8 {
    let runtime = match super::tokio_runtime(Some(1)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(operators(args.command))
}

async fn open(db: &str) -> Result<SqlStore, u8> {
    SqlStore::open(db).await.map_err(|e| {
        eprintln!("error: cannot open the database: {e}");
        super::PROBLEMS
    })
}

async fn operators(action: Action) -> u8 {
    match action {
        Action::Add { name, role, db } => {
            if let Err(why) = crate::api::console_name_rule(&name) {
                eprintln!("error: operator name `{name}` {why}");
                return super::USAGE;
            }
            if name == crate::api::access::API_OPERATOR {
                eprintln!("error: operator `api` exists: it is BOTWRIGHT_API_TOKEN");
                return super::PROBLEMS;
            }
            let store = match open(&db).await {
                Ok(s) => s,
                Err(code) => return code,
            };
            let token = match new_token() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: cannot make a token (reading /dev/urandom): {e}");
                    return super::PROBLEMS;
                }
            };
            let now = chrono::Local::now().fixed_offset();
            match store
                .add_operator(&name, role.role().as_str(), &token_hash(&token), now)
                .await
            {
                Ok(AddOperator::Added) => {
                    println!("{token}");
                    super::OK
                }
                Ok(AddOperator::Exists) => {
                    eprintln!("error: operator `{name}` exists");
                    super::PROBLEMS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    super::PROBLEMS
                }
            }
        }
        Action::List { db } => {
            let store = match open(&db).await {
                Ok(s) => s,
                Err(code) => return code,
            };
            match store.operators().await {
                Ok(list) => {
                    for o in list {
                        println!("{}\t{}\t{}", o.name, o.role, o.created_at);
                    }
                    super::OK
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    super::PROBLEMS
                }
            }
        }
        Action::Remove { name, db } => {
            let store = match open(&db).await {
                Ok(s) => s,
                Err(code) => return code,
            };
            match store.remove_operator(&name).await {
                Ok(true) => super::OK,
                Ok(false) => {
                    eprintln!("error: no operator `{name}`");
                    super::PROBLEMS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    super::PROBLEMS
                }
            }
        }
    }
}
