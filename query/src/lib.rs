//! Strata's query language (RediSearch dialect 2): the AST, the parser and the printer.
