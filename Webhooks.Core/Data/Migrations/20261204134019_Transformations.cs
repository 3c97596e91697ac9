using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class Transformations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "format",
                table: "endpoints",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "standard");

            migrationBuilder.AddColumn<string>(
                name: "transformation",
                table: "endpoints",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "transformation_blocked",
                table: "deliveries",
                type: "boolean",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "format",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "transformation",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "transformation_blocked",
                table: "deliveries");
        }
    }
}
