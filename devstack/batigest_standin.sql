-- A PostgreSQL stand-in for the two Batigest tables the project touches.
-- Tests and demo only: production never creates, alters or drops these tables.
-- Types follow Batigest as far as known; like Batigest, SuiviMO has no unique
-- constraint on (CodeChantier, CodeSalarie, Date).
create schema if not exists dbo;

create table if not exists dbo."Salarie" (
    "Code"     varchar(8)  not null primary key,
    "Nom"      varchar(35),
    "Prenom"   varchar(35),
    "codebs"   varchar(50),
    "Qualif"   varchar(35),
    "DateEntree" timestamp(3),
    "Actif"    smallint default 1
);

create table if not exists dbo."SuiviMO" (
    "CodeChantier" varchar(8)    not null,
    "CodeSalarie"  varchar(8)    not null,
    "Date"         timestamp(3)  not null,
    "NbH0"         numeric(18, 6),
    "NbH1"         numeric(18, 6),
    "NbH2"         numeric(18, 6),
    "NbH3"         numeric(18, 6),
    "NbH4"         numeric(18, 6),
    "Libelle"      varchar(60),
    "CodeTache"    varchar(8),
    "Commentaire"  text
);
