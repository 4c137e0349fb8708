pub mod a;
pub mod a;
pub mod a {
    pub fn f() {}
}
pub struct S;
pub enum S { A }
macro_rules! m { () => { pub fn made() {} } }
m!();
